"""Whole-detector cost of the LVIS Mask R-CNN configs against the stock one, in one run.

    python tools/benchmark_detector.py [--repeats 2] [--warmup 1] [--size 512]
    python tools/benchmark_detector.py --smoke     # 8 classes, 128 px, seconds (CI)

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
import argparse
import math
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path[:0] = [ROOT, osp.join(ROOT, 'tools')]  # run from a checkout; tools/benchmark.py

import torch  # noqa: E402
from benchmark import CLASSES_PER_IMAGE, timed  # noqa: E402

import ltr_plugins  # noqa: E402,F401  (registers the heads)
from ltr_plugins.fileio import atomic_write_text  # noqa: E402

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


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=2, help='measured rounds (median)')
    parser.add_argument('--warmup', type=int, default=1, help='unmeasured rounds first')
    parser.add_argument('--images', type=int, default=2, help='images per step')
    parser.add_argument('--size', type=int, default=512, help='image side in px')
    parser.add_argument('--objects', type=int, default=8, help='ground-truth objects per image')
    parser.add_argument('--cases', nargs='+', default=None,
                        help='only these case names (the stock detector is always measured)')
    parser.add_argument('--smoke', action='store_true',
                        help='8 classes, 128 px, 1 round: checks that every case runs (CI)')
    parser.add_argument('--out', default=osp.join(ROOT, 'work_dirs', 'benchmark'),
                        help='writes detector.md here')
    args = parser.parse_args(argv)
    from mmengine.optim import OptimWrapper
    num_classes = 8 if args.smoke else 1203
    if args.smoke:
        args.repeats, args.warmup, args.size = 1, 0, 128
    torch.manual_seed(0)
    batch = synthetic_batch(args.images, args.size, args.objects, num_classes,
                            torch.Generator().manual_seed(0))
    cases = [c for c in CASES if args.cases is None or c[0] in args.cases or c is CASES[0]]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, config, options in cases:
            model = build(config, options, num_classes, tmp)
            optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-5))
            runs.append(dict(name=name, config=config, model=model, optim=optim,
                             train=[], infer=[]))
        for r in range(args.warmup + args.repeats):
            for run in runs:  # round-robin: load drift hits every config alike
                model = run['model']
                model.train()
                # same seed per round for every config: the same RPN anchors and RoIs sampled
                torch.manual_seed(1000 + r)
                t = timed(lambda: model.train_step(batch, run['optim']), CPU)
                model.eval()
                with torch.no_grad():
                    i = timed(lambda: model.test_step(batch), CPU)
                if r >= args.warmup:
                    run['train'].append(t)
                    run['infer'].append(i)
            print(f'[benchmark_detector] round {r + 1}/{args.warmup + args.repeats}', flush=True)
    t0 = statistics.median(runs[0]['train'])
    i0 = statistics.median(runs[0]['infer'])
    lines = [f'# Whole-detector cost vs the stock Mask R-CNN\n\n`python '
             f'tools/benchmark_detector.py {" ".join(argv if argv is not None else sys.argv[1:])}'
             f'`, {time.strftime("%Y-%m-%d")}, torch {torch.__version__}, '
             f'{torch.get_num_threads()} threads; {args.images} images of {args.size} px, '
             f'{num_classes} classes, random weights; medians of {args.repeats} rounds after '
             f'{args.warmup} warm-up rounds.', '',
             '| config | name | train step s | x stock | inference s | x stock |',
             '|---|---|---|---|---|---|']
    for run in runs:
        t, i = statistics.median(run['train']), statistics.median(run['infer'])
        run.update(train_s=t, infer_s=i, train_ratio=t / t0, infer_ratio=i / i0)
        lines.append(f'| `{osp.basename(run["config"])}` | {run["name"]} | {t:.2f} | '
                     f'{t / t0:.3f} | {i:.2f} | {i / i0:.3f} |')
    text = '\n'.join(lines) + '\n'
    print(text)
    atomic_write_text(osp.join(args.out, 'detector.md'), text)
    return text


if __name__ == '__main__':
    main()
