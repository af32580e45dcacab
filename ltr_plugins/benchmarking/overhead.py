"""Cost of every head in the package against the stock mmpretrain / mmdet head, in one run.

    python tools/benchmark.py [--tasks cls det] [--repeats 20] [--out work_dirs/benchmark]
    python tools/benchmark.py --smoke          # tiny sizes, seconds (CI)

The cases, their construction and the report; the command line is
:mod:`ltr_plugins.tools.benchmark`.

Classification: neck + head on a (B, 2048, 7, 7) backbone feature map, 1000 classes, against
``GlobalAveragePooling`` + ``LinearClsHead``. Detection: the RoI box branch of Mask R-CNN at LVIS
size (1203 classes, 512 sampled RoIs per image in training, 1000 proposals per image at
inference incl. the per-class NMS), routed through ``StandardRoIHead.bbox_loss`` /
``predict_bbox`` exactly as in training, against ``Shared2FCBBoxHead``. The RoI features are
precomputed (RoIAlign costs the same for every head) and receive gradients as in training.

Measured per case: train step (forward + loss + backward + SGD step) and inference time, each
the median of ``--repeats`` rounds after ``--warmup`` rounds, cases interleaved round-robin so
drifting machine load hits all of them alike; trainable parameters; memory (CUDA: peak
allocated; CPU: bytes of the tensors autograd saves for backward). Ratios are to the stock head.

A head's own time is a poor yardstick for "overhead" (a bare ``nn.Linear`` costs next to
nothing), so the table also gives the ratio of a whole train step: the rest of the model
(ResNet-50 at 224 px for classification; ResNet-50 + FPN at 512 px for detection — RPN and mask
branch excluded, which makes this ratio conservative) is measured once in the same run and added
to both sides; likewise its inference (eval mode, no grad) for the whole-inference ratio. The
goals (<= 1.03x for IIF / cosine, <= 1.15x for CAMC / OLTR / VL-LTR) are read against those
columns.

To add a head: add a function to ``CLS_CASES`` / ``DET_CASES`` returning its config.
"""
import copy
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
from torch import nn

import ltr_plugins  # noqa: F401  (registers the heads)

# ---------------------------------------------------------------------------------------------
# Cases: name -> fn(env) -> config. env has num_classes, in_channels, tmpdir (for heads that
# need a file, e.g. text embeddings). The first entry is the stock reference.
GAP = dict(type='GlobalAveragePooling')


def _cls_linear(env):
    return dict(neck=GAP, head=dict(type='LinearClsHead', num_classes=env.num_classes,
                                    in_channels=env.in_channels))


def _cls_iif(env):
    return dict(neck=GAP, head=dict(type='IIFLinearClsHead', num_classes=env.num_classes,
                                    in_channels=env.in_channels, iif=env.cls_iif))


def _cls_cosine(env):
    return dict(neck=GAP, head=dict(type='CosineClsHead', num_classes=env.num_classes,
                                    in_channels=env.in_channels, scale=16.0))


def _cls_cosine_iif(env):
    return dict(neck=GAP, head=dict(type='CosineClsHead', num_classes=env.num_classes,
                                    in_channels=env.in_channels, scale=16.0, iif=env.cls_iif))


CAMC = dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean', aux_weight=0.5)


def _cls_camc(env):
    # no neck: the head pools the calibrated map itself
    return dict(neck=None, head=dict(type='CAMCClsHead', num_classes=env.num_classes,
                                     in_channels=env.in_channels, scale=16.0, camc=CAMC))


def _cls_oltr(env, attention=True):
    # OLTR stage 2: modulated attention on the 7x7 map + 512-d fc+ReLU (OLTRNeck), then the
    # meta-embedding head (reachability, hallucinator, selector, squashed cosine, centroid loss)
    return dict(neck=dict(type='OLTRNeck', in_channels=env.in_channels, out_channels=512,
                          attention=attention, spatial_size=7),
                head=dict(type='MetaEmbeddingClsHead', num_classes=env.num_classes,
                          in_channels=512))


def _vlltr_anchors(env, num_anchors: int, dim: int) -> str:
    """A random anchor file of the benchmark's class count (the cost does not depend on
    the values). Smoke runs use M = 2, D = 16."""
    from ltr_plugins.core.vlltr import AnchorEmbeddings, save_anchor_embeddings
    if env.num_classes < 100:
        num_anchors, dim = 2, 16
    path = osp.join(env.tmpdir, f'anchors_{env.num_classes}_{num_anchors}_{dim}.safetensors')
    if not osp.exists(path):
        g = torch.Generator().manual_seed(0)
        save_anchor_embeddings(path, AnchorEmbeddings(
            torch.randn(env.num_classes, num_anchors, dim, generator=g),
            [f'c{i}' for i in range(env.num_classes)], 4.6))
    return path


def _cls_lgr(env):
    # VL-LTR stage 2 at ImageNet-LT size: M = 64 anchors, D = 1024 (CLIP RN50), frozen image
    # projection 2048 -> 1024, visual MLP 1024 -> 4096 -> C
    return dict(neck=GAP, head=dict(type='LGRClsHead', num_classes=env.num_classes,
                                    in_channels=env.in_channels,
                                    anchors=_vlltr_anchors(env, 64, 1024)))


CLS_CASES: Dict[str, Callable] = {
    'LinearClsHead (stock)': _cls_linear,
    'IIFLinearClsHead': _cls_iif,
    'CosineClsHead (s=16)': _cls_cosine,
    'CosineClsHead + IIF': _cls_cosine_iif,
    'CAMCClsHead (s=16)': _cls_camc,
    'OLTR (attention + fc512 + meta-embedding)': _cls_oltr,
    'OLTR (fc512 + meta-embedding, no attention)': lambda env: _cls_oltr(env, attention=False),
    'LGRClsHead (VL-LTR, M=64, D=1024)': _cls_lgr,
}


def _det_stock(env):
    return dict(type='Shared2FCBBoxHead')


def _det_iif(env):
    return dict(type='IIFShared2FCBBoxHead', iif=env.det_iif)


def _det_cosine(env):
    return dict(type='Shared2FCBBoxHead',
                cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0))


def _det_cosine_iif(env):
    return dict(type='IIFShared2FCBBoxHead', iif=env.det_iif,
                cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0))


def _det_camc(env):
    return dict(type='CAMCShared2FCBBoxHead', camc=CAMC, camc_scale=20.0,
                cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0),
                roi_head=dict(type='CAMCRoIHead'))


def _det_camc_iif(env):
    return dict(type='CAMCShared2FCBBoxHead', camc=CAMC, camc_scale=8.0, iif=env.det_iif,
                cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0),
                roi_head=dict(type='CAMCRoIHead'))


def _det_lgr(env):
    # VL-LTR's LGR RoI classifier at LVIS size as
    # configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py: M = 16,
    # D = 512, RoI feature 1024 -> 512, visual MLP hidden 512, learned background embedding
    return dict(cls_predictor_cfg=dict(type='LGRPredictor', anchors=_vlltr_anchors(env, 16, 512),
                                       hidden_ratio=1),
                loss_cls=dict(type='LGRClsLoss', num_classes=env.num_classes,
                              alpha=0.5))


def _det_lgr_subset(env):
    # as configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py: language logits
    # of 64 classes per training step
    case = _det_lgr(env)
    case['cls_predictor_cfg']['train_class_subset'] = 64
    return dict(case, roi_head=dict(type='LGRRoIHead'))


# A det case returns bbox_head overrides (merged into the base config's bbox head), optionally
# with a key 'roi_head' holding overrides of the RoI head itself (e.g. its type).
DET_CASES: Dict[str, Callable] = {
    'Shared2FCBBoxHead (stock)': _det_stock,
    'IIFShared2FCBBoxHead': _det_iif,
    'cosine (tau=20)': _det_cosine,
    'cosine (tau=8) + IIF': _det_cosine_iif,
    'CAMC + cosine (tau=20)': _det_camc,
    'CAMC + cosine (tau=8) + IIF': _det_camc_iif,
    'OLTRShared2FCBBoxHead (meta-embedding)': lambda env: dict(
        type='OLTRShared2FCBBoxHead', roi_head=dict(type='LabelAwareRoIHead')),
    'LGR (VL-LTR, M=16, D=512)': _det_lgr,
    'LGR (VL-LTR, M=16, D=512, 64-class subset)': _det_lgr_subset,
}


# ---------------------------------------------------------------------------------------------
class Env:
    """Sizes and shared settings handed to the case functions."""

    def __init__(self, num_classes: int, in_channels: int, tmpdir: str, smoke: bool):
        self.num_classes, self.in_channels, self.tmpdir = num_classes, in_channels, tmpdir
        # Full size: the packaged tables (1000 ImageNet-LT classes, 1203 LVIS v1 categories).
        # Smoke: made-up counts of the right length.
        counts = list(range(1, num_classes + 1))
        if smoke:
            from ltr_plugins.datasets import ClassStats
            stats = ClassStats.from_counts(counts, [f'c{i}' for i in range(num_classes)])
            path = osp.join(tmpdir, 'stats.csv')
            stats.to_csv(path)
            self.cls_iif = self.det_iif = dict(variant='raw', stats=path)
        else:
            self.cls_iif = dict(variant='smooth', stats='imagenet_lt')
            self.det_iif = dict(variant='raw', stats='lvis_v1')


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes of the distinct storages autograd keeps for backward while running ``fn``."""
    seen = {}

    def pack(t):
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        except Exception:  # e.g. sparse / meta tensors: not counted
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


class Case:
    """One head: a train-step closure, an inference closure and its measurements."""

    def __init__(self, name: str, module: nn.Module, train_loss: Callable, infer: Callable,
                 extra_params: List[nn.Parameter] = ()):
        self.name, self.module = name, module
        self._train_loss, self._infer = train_loss, infer
        params = [p for p in module.parameters() if p.requires_grad] + list(extra_params)
        self.optimizer = torch.optim.SGD(params, lr=1e-4, momentum=0.9)
        self.params = sum(p.numel() for p in module.parameters() if p.requires_grad)
        self.train_times: List[float] = []
        self.infer_times: List[float] = []
        self.memory = 0

    def train_step(self) -> None:
        """One training step: forward, loss, backward, SGD step."""
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        self._train_loss().backward()
        self.optimizer.step()

    def infer(self) -> None:
        """One inference (eval mode, no grad)."""
        self.module.eval()
        with torch.no_grad():
            self._infer()

    def measure_memory(self, device: torch.device) -> None:
        """Set ``memory``: CUDA peak allocated bytes of a train step, on the CPU the bytes
        autograd saves for backward."""
        self.module.train()
        if device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            self.train_step()
            torch.cuda.synchronize()
            self.memory = torch.cuda.max_memory_allocated() - base
        else:
            self.memory = saved_tensor_bytes(self._train_loss)


def timed(fn: Callable, device: torch.device) -> float:
    """Wall seconds of ``fn()`` (CUDA synchronised before and after)."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
def build_cls_cases(env: Env, batch: int, device: torch.device, names=None) -> List[Case]:
    """The classification cases (:data:`CLS_CASES`; ``names``: only these, plus the stock
    head) on a random (``batch``, C, 7, 7) feature map."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    g = torch.Generator().manual_seed(0)
    feats = torch.randn(batch, env.in_channels, 7, 7, generator=g).to(device)
    labels = torch.randint(0, env.num_classes, (batch,), generator=g)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    cases = []
    for name, fn in CLS_CASES.items():
        if names and name not in names and not name.endswith('(stock)'):
            continue
        cfg = fn(env)
        neck = MODELS.build(cfg['neck']) if cfg['neck'] else nn.Identity()  # None: no neck
        model = nn.ModuleDict(dict(neck=neck,
                                   head=MODELS.build(cfg['head']))).to(device)

        def train_loss(model=model):
            losses = model['head'].loss(model['neck']((feats, )), samples)
            return sum(v for k, v in losses.items() if 'loss' in k)

        def infer(model=model):
            return model['head'].predict(model['neck']((feats, )))

        cases.append(Case(name, model, train_loss, infer))
    return cases


class _FixedRoIFeatures(nn.Module):
    """Stands in for the RoI extractor: returns precomputed (N, C, 7, 7) RoI features (a leaf
    that receives gradients, as the FPN's RoIAlign output does in training)."""

    num_inputs = 4

    def __init__(self, train_feats: torch.Tensor, test_feats: torch.Tensor):
        super().__init__()
        self.train_feats = nn.Parameter(train_feats)
        self.register_buffer('test_feats', test_feats)

    def forward(self, x, rois):
        feats = self.train_feats if self.training else self.test_feats
        assert feats.shape[0] == rois.shape[0], 'RoI count changed between measurements'
        return feats


#: LVIS v1 train: 360,952 (class, image) pairs (sum of the categories' image_count in
#: lvis_v1_train.json, packaged as ltr_plugins/data/lvis_v1_categories.csv) over 100,170 images
#: = 3.6 classes per image
CLASSES_PER_IMAGE = 4


def _sampling_results(num_imgs: int, rois_per_img: int, num_classes: int, size: int,
                      g: torch.Generator) -> list:
    from mmdet.models.task_modules.assigners import AssignResult
    from mmdet.models.task_modules.samplers import SamplingResult

    results = []
    num_pos = rois_per_img // 4  # mmdet's rcnn sampler: pos_fraction 0.25
    for _ in range(num_imgs):
        xy = torch.rand(rois_per_img, 2, generator=g) * size * 0.7
        wh = torch.rand(rois_per_img, 2, generator=g) * size * 0.3 + 8
        priors = torch.cat([xy, xy + wh], dim=1)
        gt = priors[:num_pos] + torch.randn(num_pos, 4, generator=g) * 2
        gt_inds = torch.zeros(rois_per_img, dtype=torch.long)
        gt_inds[:num_pos] = torch.arange(1, num_pos + 1)
        labels = torch.full((rois_per_img, ), -1, dtype=torch.long)
        # positives carry the labels of CLASSES_PER_IMAGE classes of the image (only the
        # class-subset LGR case depends on it)
        image_classes = torch.randperm(num_classes, generator=g)[:CLASSES_PER_IMAGE]
        labels[:num_pos] = image_classes[torch.randint(0, len(image_classes), (num_pos, ),
                                                       generator=g)]
        assign = AssignResult(num_pos, gt_inds, torch.ones(rois_per_img), labels)
        results.append(SamplingResult(torch.arange(num_pos), torch.arange(num_pos, rois_per_img),
                                      priors, gt, assign, torch.zeros(rois_per_img)))
    return results


def build_det_cases(env: Env, num_imgs: int, rois_per_img: int, proposals_per_img: int,
                    device: torch.device, names=None) -> List[Case]:
    """The detection cases (:data:`DET_CASES`; ``names``: only these, plus the stock head):
    the RoI box branch of the stock Mask R-CNN with each case's overrides, on precomputed RoI
    features of ``num_imgs`` images."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config, ConfigDict  # noqa: F401
    from mmengine.structures import InstanceData

    register_all_modules(init_default_scope=False)
    from mmengine.hub import get_config
    base = get_config('mmdet::_base_/models/mask-rcnn_r50_fpn.py').model  # stock Mask R-CNN
    g = torch.Generator().manual_seed(0)
    size = 512
    sampling = _sampling_results(num_imgs, rois_per_img, env.num_classes, size, g)
    c = env.in_channels
    train_feats = torch.randn(num_imgs * rois_per_img, c, 7, 7, generator=g)
    test_feats = torch.randn(num_imgs * proposals_per_img, c, 7, 7, generator=g)
    proposals = []
    for _ in range(num_imgs):
        xy = torch.rand(proposals_per_img, 2, generator=g) * size * 0.7
        wh = torch.rand(proposals_per_img, 2, generator=g) * size * 0.3 + 8
        proposals.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1).to(device),
                                      scores=torch.rand(proposals_per_img, generator=g).to(device)))
    for res in sampling:
        for key in ('pos_priors', 'neg_priors', 'pos_gt_bboxes', 'pos_gt_labels'):
            setattr(res, key, getattr(res, key).to(device))
    metas = [dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.))
             for _ in range(num_imgs)]
    fpn = tuple(torch.zeros(num_imgs, c, 1, 1, device=device) for _ in range(4))  # unused
    test_cfg = ConfigDict(base.test_cfg.rcnn)
    cases = []
    for name, fn in DET_CASES.items():
        if names and name not in names and not name.endswith('(stock)'):
            continue
        overrides = dict(fn(env))
        roi_cfg = copy.deepcopy(base.roi_head)
        _merge(roi_cfg, overrides.pop('roi_head', {}))
        roi_cfg.bbox_head.update(num_classes=env.num_classes, in_channels=c)
        _merge(roi_cfg.bbox_head, overrides)
        roi_cfg.pop('mask_roi_extractor')
        roi_cfg.pop('mask_head')
        roi_cfg.train_cfg = base.train_cfg.rcnn
        roi_cfg.test_cfg = base.test_cfg.rcnn
        roi_head = MODELS.build(roi_cfg)
        roi_head.bbox_roi_extractor = _FixedRoIFeatures(train_feats.clone(), test_feats)
        roi_head.to(device)

        def train_loss(roi_head=roi_head):
            losses = roi_head.bbox_loss(fpn, sampling)['loss_bbox']
            return sum(v for k, v in losses.items() if 'loss' in k)

        def infer(roi_head=roi_head):
            return roi_head.predict_bbox(fpn, metas, proposals, test_cfg, rescale=False)

        extractor = roi_head.bbox_roi_extractor
        cases.append(Case(name, roi_head, train_loss, infer))
        cases[-1].params -= extractor.train_feats.numel()  # the stand-in is not a parameter
    return cases


def _merge(cfg: dict, overrides: dict) -> None:
    """Recursive dict update (config dicts)."""
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict) and v.get('type') in (
                None, cfg[k].get('type')):
            _merge(cfg[k], v)
        else:
            cfg[k] = v


# ---------------------------------------------------------------------------------------------
def rest_of_model(task: str, batch: int, device: torch.device,
                  repeats: int) -> Tuple[float, float]:
    """Median train-step and inference (eval mode, no grad) seconds of the part of the model
    every head shares."""
    from mmengine.registry import MODELS
    if task == 'cls':
        from mmpretrain.registry import MODELS as REG
        model = REG.build(dict(type='ResNet', depth=50))
        x = torch.randn(batch, 3, 224, 224)
    else:
        from mmdet.registry import MODELS as REG
        model = nn.Sequential(
            REG.build(dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3))),
            REG.build(dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256,
                           num_outs=5)))
        x = torch.randn(batch, 3, 512, 512)
    del MODELS
    model.to(device).train()
    x = x.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        sum(o.float().mean() for o in out).backward()
        opt.step()

    step()  # warm-up
    train = statistics.median(timed(step, device) for _ in range(repeats))

    @torch.no_grad()
    def infer():
        model(x)

    model.eval()
    infer()  # warm-up
    return train, statistics.median(timed(infer, device) for _ in range(repeats))


def report(task: str, cases: List[Case], rest: Tuple[float, float],
           device: torch.device) -> List[dict]:
    """One row per case: times, parameters and memory, each also as a ratio to the stock head
    (the first case); with ``rest`` = (train, inference) seconds of the rest of the model, the
    whole-step ratios."""
    stock = cases[0]
    t0, i0 = statistics.median(stock.train_times), statistics.median(stock.infer_times)
    rows = []
    for c in cases:
        t, i = statistics.median(c.train_times), statistics.median(c.infer_times)
        row = dict(task=task, head=c.name, train_ms=t * 1e3, train_ratio=t / t0,
                   infer_ms=i * 1e3, infer_ratio=i / i0, params=c.params,
                   params_ratio=c.params / max(stock.params, 1), memory_mb=c.memory / 2**20,
                   memory_ratio=c.memory / max(stock.memory, 1))
        if rest:
            row['step_ratio'] = (rest[0] + t) / (rest[0] + t0)
            row['infer_step_ratio'] = (rest[1] + i) / (rest[1] + i0)
        rows.append(row)
    return rows


def to_markdown(task: str, rows: List[dict], rest: Tuple[float, float], device: torch.device,
                sizes: str) -> str:
    """The markdown table of one task's ``rows`` (:func:`report`), with the sizes line and,
    with ``rest``, the whole-step columns."""
    mem = 'peak MB' if device.type == 'cuda' else 'saved-for-backward MB'
    head = ['head', 'train ms', 'x stock', 'infer ms', 'x stock', 'params', 'x stock', mem,
            'x stock']
    if rest:
        head += ['whole train step x stock', 'whole inference x stock']
    lines = [f'**{task}** ({sizes}; device {device})', '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [r['head'], f'{r["train_ms"]:.2f}', f'{r["train_ratio"]:.2f}',
                 f'{r["infer_ms"]:.2f}', f'{r["infer_ratio"]:.2f}', f'{r["params"]:,}',
                 f'{r["params_ratio"]:.2f}', f'{r["memory_mb"]:.1f}', f'{r["memory_ratio"]:.2f}']
        if rest:
            cells += [f'{r["step_ratio"]:.3f}', f'{r["infer_step_ratio"]:.3f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    if rest:
        lines.append('')
        lines.append(f'Rest of the model (shared by all heads): {rest[0] * 1e3:.0f} ms per '
                     f'train step, {rest[1] * 1e3:.0f} ms per inference, measured in the same '
                     'run.')
    return '\n'.join(lines)
