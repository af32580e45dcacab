"""Whole-detector cost of the LVIS Mask R-CNN configs against the stock one, in one run.

    python tools/benchmark_detector.py [--repeats 2] [--warmup 1] [--size 512]
    python tools/benchmark_detector.py --smoke     # 8 classes, 128 px, seconds (CI)

The cases and their construction; the command line is
:mod:`ltr_plugins.tools.benchmark_detector`.

``tools/benchmark.py`` times the box heads alone and adds a ResNet-50-FPN forward / step as
"the rest of the model"; it leaves out the RPN and the mask branch, so its whole-step ratios
are upper bounds. This tool builds the complete detector of each config (random weights; an
LGR config gets a random anchor file of the right shape), and times ``model.train_step``
(forward, losses, backward, SGD step) and ``model.test_step`` (proposals, box head, per-class
NMS, masks for up to 300 detections per image) on the same synthetic batch: ``--images``
images of ``--size`` px, each with ``--objects`` ground-truth boxes / masks of 4 classes
(LVIS v1 train averages 3.6 classes per image). Medians of ``--repeats`` rounds after
``--warmup`` rounds, configs interleaved round-robin so drifting machine load hits every config
alike; ratios are to the first config (the stock detector).

Every config is built from the same seed, so the backbone, neck and RPN start identical, and
every training step of a round is seeded alike: all configs train on the same proposals and
sampled RoIs (with different random RPNs the number of positive RoIs, hence the mask branch's
work, differed between configs). Random weights give near-uniform class scores, so every config
keeps the maximum number of detections per image (300) at test time: the mask branch runs at
its largest, for all configs.
"""
import math
import os.path as osp
from typing import Dict, List, Tuple

import torch

import ltr_plugins  # noqa: F401  (registers the heads)

from .overhead import CLASSES_PER_IMAGE
from .suites import ROOT

#: (name, config, cfg options); an option value 'ANCHORS' is replaced by a random anchor file
_LGR = 'configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py'
CASES: List[Tuple[str, str, Dict]] = [
    ('Mask R-CNN R50-FPN (stock)', 'configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py',
     {}),
    ('CAMC + cosine', 'configs/camc/mask-rcnn_r50_fpn_camc_cosine-t20_sample1e-3_1x_lvis-v1.py',
     {}),
    ('OLTR', 'configs/oltr/mask-rcnn_r50_fpn_oltr-stage2_sample1e-3_1x_lvis-v1.py', {}),
    ('LGR, 64-class training subset (LVIS config)', _LGR,
     {'model.roi_head.bbox_head.cls_predictor_cfg.anchors': 'ANCHORS'}),
    ('LGR, all classes in training', _LGR,
     {'model.roi_head.bbox_head.cls_predictor_cfg.anchors': 'ANCHORS',
      'model.roi_head.bbox_head.cls_predictor_cfg.train_class_subset': None}),
]


CPU = torch.device('cpu')  # the tool builds and times on the CPU


def build(config: str, options: Dict, num_classes: int, anchors_dir: str):
    """The detector of ``config`` (random weights, eval-free) with ``num_classes`` classes."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from ltr_plugins.core.vlltr import AnchorEmbeddings, save_anchor_embeddings
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(ROOT, config))
    roi = cfg.model.roi_head
    options = dict(options, **{'model.backbone.init_cfg': None})  # no download: random weights
    if num_classes != roi.bbox_head.num_classes:
        options.update({'model.roi_head.bbox_head.num_classes': num_classes,
                        'model.roi_head.mask_head.num_classes': num_classes})
        if 'num_classes' in roi.bbox_head.get('loss_cls', {}):
            options['model.roi_head.bbox_head.loss_cls.num_classes'] = num_classes
    for key, value in options.items():
        if value == 'ANCHORS':
            path = osp.join(anchors_dir, f'anchors_{num_classes}.safetensors')
            if not osp.exists(path):
                g = torch.Generator().manual_seed(0)
                save_anchor_embeddings(path, AnchorEmbeddings(
                    torch.randn(num_classes, 16, 512, generator=g),
                    [f'c{i}' for i in range(num_classes)], math.log(30.0)))
            options[key] = path
    cfg.merge_from_dict(options)
    # same seed for every config: the backbone, neck and RPN (built, and initialised, before the
    # RoI head) get the same random weights, hence the same proposals; reseeded because
    # init_weights runs after the whole model (RoI heads of different sizes) is built
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.manual_seed(0)
    model.init_weights()
    return model


def synthetic_batch(num_images: int, size: int, objects: int, num_classes: int,
                    g: torch.Generator) -> dict:
    """``num_images`` random images with boxes, labels and masks (mmdet's data format)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    inputs, samples = [], []
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        xy = torch.rand(objects, 2, generator=g) * size * 0.6
        wh = torch.rand(objects, 2, generator=g) * size * 0.3 + 16
        boxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], 1)
        masks = torch.zeros(objects, size, size, dtype=torch.uint8)
        for m, (x0, y0, x1, y1) in zip(masks, boxes.long().tolist()):
            m[y0:y1, x0:x1] = 1
        classes = torch.randperm(num_classes, generator=g)[:CLASSES_PER_IMAGE]
        labels = classes[torch.randint(0, len(classes), (objects, ), generator=g)]
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
            scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        sample.gt_instances = InstanceData(bboxes=boxes, labels=labels,
                                           masks=BitmapMasks(masks.numpy(), size, size))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
