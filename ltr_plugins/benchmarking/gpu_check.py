"""GPU install check: mmcv's CUDA ops, then a few fp16 training iterations and one test pass of
every LVIS v1 and ImageNet-LT config, on generated data of the real size and class count.

    bash tools/gpu_check.sh                     # = python -m ltr_plugins.benchmarking.gpu_check
    bash tools/gpu_check.sh --configs configs/baselines/*_lvis-v1.py configs/iif/*_lvis-v1.py
    bash tools/gpu_check.sh --device cpu --tiny # CPU fallback: tiny sizes, fp32 (the tests)

Steps:

1. The ``ltr-env`` report (:mod:`ltr_plugins.env`); on ``--device cuda`` mmcv's ops must be
   compiled for CUDA, and ``nms`` / ``RoIAlign`` run on the GPU must match their CPU results.
2. Generated data in a temporary folder (:func:`ltr_plugins.datasets.generator.
   generate_lvis_full_classes`, :func:`~ltr_plugins.datasets.generator.
   generate_imagenet_lt_full_classes`): LVIS v1 with its 1203 categories, images of 1333 x 800
   px; ImageNet-LT lists with its 1000 classes over 500 x 375 px images (the configs crop 224).
   ``LVIS_ROOT`` / ``IMAGENET_LT_ROOT`` point the configs at it.
3. Per config (read with :func:`ltr_plugins.launch.load_config`, overridden through mmengine's
   ``Config.merge_from_dict``, built with :func:`ltr_plugins.launch.build_runner`): random
   weights (no download), ``--warmup`` + ``--iters`` iterations of an ``IterBasedTrainLoop``
   with the config's batch size, data pipeline and optimizer, under fp16 (mmengine's
   ``AmpOptimWrapper``) on CUDA; then one ``runner.test()`` pass with the config's evaluator.
4. A table: train s/iter (mean after the warm-up iterations), test s/iter (the whole pass over
   its batches), peak memory (``torch.cuda.max_memory_allocated``, training and test; n/a on
   CPU: one process runs all configs, so its RSS peak is not per config) and the ratios to the
   stock config of the same task (``configs/baselines/``).

Configs that read files made by an earlier stage get stand-ins, and the table says so
(column ``notes``): ``load_from`` (OLTR stage 2, IIF decoupled, VL-LTR LGR) is dropped
(random init; OLTR's memory is then set by its centroid-init hook from random features);
VL-LTR LGR anchors are a random (C, M, D) file; VL-LTR pre-training's open_clip text encoder
(a local CLIP checkpoint) is replaced by the packaged random text encoder of the same output
width.
A config that fails is a ``FAILED`` row (with the error) and the exit status is 1.
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import os.path as osp
import re
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch

#: data tag at the end of a config name -> (task, environment variable of its data root)
TASKS = {'lvis-v1': 'LVIS_ROOT', 'imagenet-lt': 'IMAGENET_LT_ROOT'}
#: the stock config of each task: the ratios are to it
STOCK = {'lvis-v1': 'configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py',
         'imagenet-lt': 'configs/baselines/resnet50_4xb128-90e_imagenet-lt.py'}
METHOD_DIRS = ('baselines', 'iif', 'cosine', 'camc', 'oltr', 'vlltr')


@dataclass
class Sizes:
    """Data and input sizes of a run: real (GPU) or ``--tiny`` (CPU fallback)."""
    det_image: tuple = (1333, 800)   # generated LVIS image (width, height)
    det_scale: Optional[tuple] = None  # None: the config's resize scales; else (w, h) for all
    det_train_images: int = 8
    det_test_images: int = 4
    cls_image: tuple = (500, 375)    # generated ImageNet image (width, height)
    cls_crop: Optional[int] = None   # None: the config's 224 crop (256 resize); else this crop
    cls_images: int = 16
    cls_test_images: int = 256       # two batches of the configs' 128
    batch_size: Optional[int] = None  # None: the config's
    # None: the config's 300 detections per image (LVIS); else this many, 10x as many RPN
    # proposals (train and test) and 4x as many sampled RoIs per image in training
    max_dets: Optional[int] = None
    num_workers: Optional[int] = None  # None: the config's


REAL = Sizes()
TINY = Sizes(det_image=(96, 64), det_scale=(96, 64), det_train_images=2, det_test_images=1,
             cls_image=(40, 40), cls_crop=32, cls_images=4, cls_test_images=4, batch_size=2,
             max_dets=10, num_workers=0)


@dataclass
class Row:
    """One config's result. Times in seconds, memory in MiB (None: not measured)."""
    config: str
    task: str
    status: str = 'ok'
    train_s: Optional[float] = None
    test_s: Optional[float] = None
    train_mem: Optional[float] = None
    test_mem: Optional[float] = None
    train_ratio: Optional[float] = None
    mem_ratio: Optional[float] = None
    notes: List[str] = field(default_factory=list)


def real_configs(root: str) -> List[str]:
    """Every LVIS v1 / ImageNet-LT config of the method folders (not ``demo/``), stock first."""
    found = []
    for d in METHOD_DIRS:
        for path in sorted(glob.glob(osp.join(root, 'configs', d, '*.py'))):
            if task_of(path) is not None:
                found.append(osp.relpath(path, root))
    stock = [STOCK[t] for t in TASKS]
    return stock + [p for p in found if p not in stock]


def task_of(config: str) -> Optional[str]:
    """``'lvis-v1'`` / ``'imagenet-lt'`` from a config name, else None."""
    match = re.search(r'_([a-z0-9-]+)\.py$', osp.basename(config))
    return match.group(1) if match and match.group(1) in TASKS else None


# ----------------------------------------------------------------------------- mmcv ops
def check_mmcv_ops(device: str) -> List[str]:
    """Run mmcv's ``nms`` and ``RoIAlign`` on ``device`` and compare with the CPU result.
    Returns report lines; raises ``RuntimeError`` when the ops are missing or disagree."""
    from ..env import mmcv_ops_info
    info = mmcv_ops_info()
    if info['compiled'] != 'yes':
        raise RuntimeError(f'mmcv ops are not compiled: {info["error"]}')
    if device == 'cuda' and info['cuda'] == 'not available':
        raise RuntimeError('mmcv ops are compiled for CPU only (a CPU mmcv wheel on a GPU '
                           'machine): install the CUDA flavour, see docs/gpus_and_clusters.md')
    from mmcv.ops import RoIAlign, nms
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2, generator=g) * 40], 1)
    scores = torch.rand(200, generator=g)
    feats = torch.randn(2, 8, 32, 32, generator=g)
    rois = torch.cat([torch.randint(0, 2, (50, 1), generator=g).float(), boxes[:50] / 4], 1)
    align = RoIAlign((7, 7), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    ref_keep = nms(boxes, scores, 0.5)[1]
    ref_align = align(feats, rois)
    lines = [f'mmcv ops: compiled for CUDA {info["cuda"]}' if info['cuda'] != 'not available'
             else 'mmcv ops: compiled for CPU only']
    if device == 'cuda':
        dev = torch.device('cuda')
        keep = nms(boxes.to(dev), scores.to(dev), 0.5)[1].cpu()
        out = align.to(dev)(feats.to(dev), rois.to(dev)).cpu()
        if not torch.equal(torch.sort(keep).values, torch.sort(ref_keep).values):
            raise RuntimeError('mmcv nms on CUDA keeps other boxes than on CPU')
        if not torch.allclose(out, ref_align, atol=1e-4, rtol=1e-4):
            raise RuntimeError(f'mmcv RoIAlign on CUDA differs from CPU by '
                               f'{(out - ref_align).abs().max().item():.3g}')
        lines.append(f'mmcv nms / RoIAlign on CUDA: match CPU ({len(keep)} boxes kept, '
                     f'RoIAlign max |diff| {(out - ref_align).abs().max().item():.2g})')
    else:
        lines.append(f'mmcv nms / RoIAlign on CPU: run ({len(ref_keep)} boxes kept); CUDA ops '
                     'not checked (--device cpu)')
    return lines


# ----------------------------------------------------------------------------- config overrides
def _datasets(node) -> List[dict]:
    """Every leaf dataset dict below a dataloader's ``dataset`` (through wrappers)."""
    if not isinstance(node, dict):
        return []
    inner = [node[k] for k in ('dataset', 'datasets') if k in node]
    if not inner:
        return [node]
    out = []
    for item in inner:
        for ds in (item if isinstance(item, (list, tuple)) else [item]):
            out += _datasets(ds)
    return out


def _resize_pipeline(pipeline: list, sizes: Sizes) -> list:
    """The pipeline with its resize / crop steps set to the ``--tiny`` sizes."""
    out = []
    for step in pipeline:
        step = dict(step)
        kind = step.get('type', '')
        if sizes.det_scale is not None:
            if kind == 'Resize':
                step['scale'] = sizes.det_scale
            elif kind == 'RandomChoiceResize':
                step['scales'] = [sizes.det_scale]
        if sizes.cls_crop is not None:
            if kind == 'RandomResizedCrop':
                step['scale'] = sizes.cls_crop
            elif kind == 'ResizeEdge':
                step['scale'] = sizes.cls_crop
            elif kind == 'CenterCrop':
                step['crop_size'] = sizes.cls_crop
        out.append(step)
    return out


def overrides(cfg, sizes: Sizes, iters: int, precision: str, device: str,
              tmp: str) -> tuple:
    """``(options for Config.merge_from_dict, notes)`` for one config; ``cfg`` is read only."""
    task = 'lvis-v1' if cfg.default_scope == 'mmdet' else 'imagenet-lt'
    notes: List[str] = []
    opts: Dict[str, object] = {
        # val_begin past the end: no validation (the val dataloader stays: OLTR's centroid
        # hook takes its pipeline)
        'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iters,
                          val_begin=10 ** 9, val_interval=10 ** 9),
        'param_scheduler': None, 'default_hooks.checkpoint': None,
        'default_hooks.logger.interval': 1, 'randomness': dict(seed=0),
        'env_cfg.cudnn_benchmark': False,
    }
    if cfg.get('load_from'):
        opts['load_from'] = None
        notes.append('load_from dropped (random init)')
    if cfg.get('optim_wrapper', {}).get('type', 'OptimWrapper') != 'OptimWrapper':
        raise ValueError(f'optim_wrapper.type={cfg.optim_wrapper.type!r}: expected OptimWrapper')
    if precision == 'fp16':
        opts['optim_wrapper.type'] = 'AmpOptimWrapper'
        opts['optim_wrapper.dtype'] = 'float16'
        opts['optim_wrapper.loss_scale'] = 'dynamic'
    elif precision == 'bf16':
        opts['optim_wrapper.type'] = ('AmpOptimWrapper' if device == 'cuda'
                                      else 'AutocastOptimWrapper')
        opts['optim_wrapper.dtype'] = 'bfloat16'
    model = cfg.model
    if task == 'lvis-v1':
        opts['model.backbone.init_cfg'] = None
        if sizes.max_dets is not None:
            opts['model.test_cfg.rcnn.max_per_img'] = sizes.max_dets
            opts['model.test_cfg.rpn.max_per_img'] = 10 * sizes.max_dets
            opts['model.test_cfg.rpn.nms_pre'] = 10 * sizes.max_dets
            opts['model.train_cfg.rpn_proposal.nms_pre'] = 10 * sizes.max_dets
            opts['model.train_cfg.rpn_proposal.max_per_img'] = 10 * sizes.max_dets
            opts['model.train_cfg.rcnn.sampler.num'] = 4 * sizes.max_dets
        predictor = model.roi_head.bbox_head.get('cls_predictor_cfg') or {}
        if predictor.get('type') == 'LGRPredictor':
            opts['model.roi_head.bbox_head.cls_predictor_cfg.anchors'] = _anchors(
                tmp, model.roi_head.bbox_head.num_classes, cfg.filename, 512)
            notes.append('random LGR anchors')
    else:
        neck = model.get('neck') or {}
        if sizes.cls_crop is not None and neck.get('type') == 'OLTRNeck' \
                and neck.get('attention'):
            # the attention's spatial size is fixed (7 for a 224 crop: stride 32)
            opts['model.neck.spatial_size'] = max(1, sizes.cls_crop // 32)
            notes.append(f'OLTR attention spatial_size {max(1, sizes.cls_crop // 32)} (tiny)')
        head = model.get('head', {})
        if head.get('type') == 'LGRClsHead':
            opts['model.head.anchors'] = _anchors(tmp, head.num_classes, cfg.filename, 1024)
            notes.append('random LGR anchors')
        elif head.get('type') == 'VLLTRPretrainHead':
            if head.text_encoder.get('type') == 'open_clip':
                width = dict(width=512, layers=2, heads=8) if sizes.max_dets is None else {}
                opts['model.head.text_encoder'] = dict(_delete_=True, type='random',
                                                       dim=head.embed_dim, **width)
                notes.append('random text encoder (no CLIP checkpoint)')
        for key in ('val_evaluator', 'test_evaluator'):
            evaluator = cfg.get(key)
            if isinstance(evaluator, dict) and 'train_ann_file' in evaluator:
                opts[f'{key}.train_ann_file'] = osp.join(
                    os.environ['IMAGENET_LT_ROOT'], 'ImageNet_LT_train_counts.txt')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if sizes.batch_size is not None:
            opts[f'{loader}.batch_size'] = sizes.batch_size
        if sizes.num_workers is not None:
            opts[f'{loader}.num_workers'] = sizes.num_workers
            opts[f'{loader}.persistent_workers'] = False
    return opts, notes


def _anchors(tmp: str, num_classes: int, config: str, dim: int) -> str:
    """A random LGR anchor file (C, M, D) for ``config`` (M from its ``-m<M>`` name part)."""
    from ..core.vlltr import AnchorEmbeddings, save_anchor_embeddings
    match = re.search(r'-m(\d+)_', osp.basename(config))
    m = int(match.group(1)) if match else 16
    path = osp.join(tmp, f'anchors_{num_classes}x{m}x{dim}.safetensors')
    if not osp.exists(path):
        g = torch.Generator().manual_seed(0)
        save_anchor_embeddings(path, AnchorEmbeddings(
            torch.randn(num_classes, m, dim, generator=g), [f'c{i}' for i in range(num_classes)],
            math.log(30.0)))
    return path


def _apply_tiny_pipelines(cfg, sizes: Sizes) -> None:
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for ds in _datasets(cfg.get(loader) or {}):
            if 'pipeline' in ds:
                ds['pipeline'] = _resize_pipeline(ds['pipeline'], sizes)
    for hook in cfg.get('custom_hooks', []):
        if hook.get('pipeline'):
            hook['pipeline'] = _resize_pipeline(hook['pipeline'], sizes)


# ----------------------------------------------------------------------------- timing
def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def _peak_mib(device: str) -> Optional[float]:
    return torch.cuda.max_memory_allocated() / 2 ** 20 if device == 'cuda' else None


def _timer_hook(device: str, warmup: int):
    from mmengine.hooks import Hook

    class IterTimer(Hook):
        """Train s/iter after ``warmup`` iterations; wall time of the test pass; peak memory
        of training and of the test pass (cuda).

        Runs before mmengine's ``LoggerHook``: its log processor resets the peak-memory
        counter at every logged iteration (``mmengine/device/utils.py``,
        ``get_max_cuda_memory``), so a peak read after ``runner.train()`` would be the memory
        held after the last iteration, not the iterations' peak (the first GPU run read 263 MiB
        for ResNet-50 at batch 128). The peak is therefore read after every iteration."""
        priority = 'VERY_HIGH'

        def __init__(self) -> None:
            self.train: List[float] = []
            self.test_batches = 0
            self.test_s = 0.0
            self.train_mem: Optional[float] = None
            self.test_mem: Optional[float] = None

        def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
            _sync(device)
            self._t = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            _sync(device)
            if runner.iter >= warmup:
                self.train.append(time.perf_counter() - self._t)
            self.train_mem = _max(self.train_mem, _peak_mib(device))

        def before_test(self, runner) -> None:
            if device == 'cuda':
                torch.cuda.reset_peak_memory_stats()
            _sync(device)
            self._t = time.perf_counter()

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            self.test_batches += 1
            self.test_mem = _max(self.test_mem, _peak_mib(device))

        def after_test(self, runner) -> None:
            _sync(device)
            self.test_s = time.perf_counter() - self._t

    return IterTimer()


def _max(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return b if a is None else a if b is None else max(a, b)


def run_config(config: str, root: str, args: argparse.Namespace, sizes: Sizes,
               work_dir: str) -> Row:
    """Train ``args.warmup + args.iters`` iterations of ``config`` and test it once."""
    from mmengine.config import Config

    from ..launch import build_runner, load_config
    task = task_of(config)
    row = Row(config=config, task=task)
    base = Config.fromfile(osp.join(root, config))
    opts, row.notes = overrides(base, sizes, args.warmup + args.iters, args.precision,
                                args.device, work_dir)
    cfg = load_config(osp.join(root, config), opts, work_dir=osp.join(work_dir, 'run'))
    if sizes.det_scale is not None or sizes.cls_crop is not None:
        _apply_tiny_pipelines(cfg, sizes)
    if args.device == 'cpu':
        cfg.env_cfg = dict(cfg.get('env_cfg', {}), cudnn_benchmark=False)
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    timer = _timer_hook(args.device, args.warmup)
    runner.register_hook(timer)
    if args.device == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    runner.test()
    row.train_mem, row.test_mem = timer.train_mem, timer.test_mem
    if not timer.train or not timer.test_batches:
        raise RuntimeError(f'{config}: {len(timer.train)} timed train iterations, '
                           f'{timer.test_batches} test batches')
    row.train_s = sum(timer.train) / len(timer.train)
    row.test_s = timer.test_s / timer.test_batches
    del runner
    return row


def _fmt(value: Optional[float], digits: Optional[int] = None) -> str:
    """``digits`` decimals, or by default 4 significant digits (fast CPU steps of ~0.1 s
    would keep only 3 with fixed decimals, too few to recompute a ratio from the table)."""
    if value is None:
        return 'n/a'
    return f'{value:.4g}' if digits is None else f'{value:.{digits}f}'


def table(rows: Sequence[Row]) -> str:
    """The markdown table of ``rows`` (ratios filled in by :func:`add_ratios`)."""
    lines = ['| config | status | train s/iter | x stock | test s/iter | peak MiB train | '
             'peak MiB test | mem x stock | notes |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f'| `{r.config}` | {r.status} | {_fmt(r.train_s)} | {_fmt(r.train_ratio)} '
                     f'| {_fmt(r.test_s)} | {_fmt(r.train_mem, 0)} | {_fmt(r.test_mem, 0)} | '
                     f'{_fmt(r.mem_ratio)} | {"; ".join(r.notes)} |')
    return '\n'.join(lines)


def add_ratios(rows: Sequence[Row]) -> None:
    """Train s/iter and peak training memory of each row over its task's stock row."""
    stock = {r.task: r for r in rows if r.config == STOCK[r.task] and r.status == 'ok'}
    for r in rows:
        s = stock.get(r.task)
        if s is None or r.status != 'ok':
            continue
        r.train_ratio = r.train_s / s.train_s
        if r.train_mem is not None and s.train_mem:
            r.mem_ratio = r.train_mem / s.train_mem


def summary(args: argparse.Namespace, sizes: Sizes) -> str:
    """The line under the header that says how the table was measured."""
    mem = ('peak memory: torch.cuda.max_memory_allocated' if args.device == 'cuda' else
           'peak memory: n/a on CPU (one process runs every config)')
    return (f'{args.precision} on {args.device}, {"tiny" if args.tiny else "real"} sizes '
            f'(LVIS images {sizes.det_image[0]}x{sizes.det_image[1]}, resize '
            f'{sizes.det_scale or "as the config"}; ImageNet crop {sizes.cls_crop or 224}; '
            f'batch {sizes.batch_size or "as the config"}); train s/iter: mean of {args.iters}'
            f' after {args.warmup} warm-up; test s/iter: one pass; {mem}; x stock: over '
            + ' / '.join(f'`{osp.basename(s)}`' for s in STOCK.values()))


def write_report(path: str, header: Sequence[str], rows: Sequence[Row], text: str,
                 pending: Sequence[str] = ()) -> None:
    """Write the markdown report of ``rows`` to ``path`` (atomically). ``pending``: configs
    not run yet, listed under the table (a partial report, written after every config)."""
    from ..fileio import atomic_write_text
    add_ratios(rows)
    lines = list(header) + ['', text, '', table(rows)]
    if pending:
        lines += ['', f'Not run yet ({len(pending)}): '
                  + ', '.join(f'`{c}`' for c in pending)]
    atomic_write_text(path, '\n'.join(lines) + '\n')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/gpu_check.sh``: print the environment, check mmcv's ops, run every selected
    config and print the table. Returns 0 when every config ran, 1 when one failed, 2 on
    ``--device cuda`` without a visible GPU or ``--device cpu`` with one (mmengine's runner
    would use it: hide it with ``CUDA_VISIBLE_DEVICES=``)."""
    parser = argparse.ArgumentParser(
        prog='gpu_check', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=('cuda', 'cpu'), default='cuda',
                        help='cuda (default; fails without a GPU) or cpu (use with --tiny)')
    parser.add_argument('--tiny', action='store_true',
                        help='CPU fallback sizes: 96x64 px LVIS images, 32 px ImageNet crops, '
                        'batch 2, 10 detections / 100 proposals / 40 sampled RoIs per image, no '
                        'dataloader workers')
    parser.add_argument('--precision', choices=('fp16', 'bf16', 'fp32'), default=None,
                        help='training precision (default: fp16 on cuda, fp32 on cpu)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--iters', type=int, default=3, help='timed training iterations')
    parser.add_argument('--configs', nargs='+', default=None,
                        help='only these configs (paths relative to the repository; the '
                        "stock config of each task is added); default: every LVIS v1 and "
                        'ImageNet-LT config of configs/{baselines,iif,cosine,camc,oltr,vlltr}')
    parser.add_argument('--out', default=None, help='also write the report (markdown) here')
    parser.add_argument('--root', default=None,
                        help='repository root holding configs/ (default: this checkout)')
    args = parser.parse_args(argv)
    if args.precision is None:
        args.precision = 'fp16' if args.device == 'cuda' else 'fp32'
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('gpu_check: --device cuda but torch sees no GPU; for the CPU fallback run '
              '--device cpu --tiny', file=sys.stderr)
        return 2
    if args.device == 'cpu' and torch.cuda.is_available():
        # mmengine's runner puts the model on the GPU whenever one is visible
        print('gpu_check: --device cpu with a visible GPU; hide it for the CPU fallback: '
              'CUDA_VISIBLE_DEVICES= bash tools/gpu_check.sh --device cpu --tiny',
              file=sys.stderr)
        return 2
    if args.device == 'cpu' and args.precision == 'fp16':
        parser.error('fp16 needs --device cuda (CPU autocast: bf16)')
    root = args.root or osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    sizes = TINY if args.tiny else REAL
    configs = real_configs(root)
    if args.configs:
        wanted = [osp.relpath(osp.abspath(c), root) if osp.exists(c) else c for c in args.configs]
        bad = [c for c in wanted if c not in configs]
        if bad:
            parser.error(f'not an LVIS v1 / ImageNet-LT config of {METHOD_DIRS}: {bad}')
        tasks = {task_of(c) for c in wanted}
        configs = [c for c in configs if c in wanted or c in [STOCK[t] for t in tasks]]

    from ..env import report_lines
    header = [f'gpu_check {" ".join(argv if argv is not None else sys.argv[1:])}',
              f'date: {time.strftime("%Y-%m-%d %H:%M %Z")}'] + report_lines()
    print('\n'.join(header), flush=True)
    ops = check_mmcv_ops(args.device)
    print('\n'.join(ops), flush=True)
    rows: List[Row] = []
    from ..datasets.generator import generate_imagenet_lt_full_classes, generate_lvis_full_classes
    with tempfile.TemporaryDirectory(prefix='ltr_gpu_check_') as tmp:
        data = osp.join(tmp, 'data')
        tasks = {task_of(c) for c in configs}
        if 'lvis-v1' in tasks:
            generate_lvis_full_classes(osp.join(data, 'lvis_v1'), sizes.det_train_images,
                                       sizes.det_test_images, sizes.det_image)
        if 'imagenet-lt' in tasks:
            generate_imagenet_lt_full_classes(osp.join(data, 'imagenet'), sizes.cls_images,
                                              sizes.cls_test_images, sizes.cls_image)
        saved = {k: os.environ.get(k) for k in TASKS.values()}
        os.environ['LVIS_ROOT'] = osp.join(data, 'lvis_v1') + '/'
        os.environ['IMAGENET_LT_ROOT'] = osp.join(data, 'imagenet') + '/'
        try:
            for i, config in enumerate(configs):
                t0 = time.perf_counter()
                work_dir = osp.join(tmp, f'run{i}')
                os.makedirs(work_dir)
                try:
                    row = run_config(config, root, args, sizes, work_dir)
                except Exception as e:  # noqa: BLE001  (reported as a FAILED row)
                    traceback.print_exc()
                    row = Row(config=config, task=task_of(config),
                              status=f'FAILED: {type(e).__name__}: {str(e)[:200]}')
                rows.append(row)
                print(f'[gpu_check] {i + 1}/{len(configs)} {config}: {row.status} '
                      f'({time.perf_counter() - t0:.0f} s)', flush=True)
                if args.out:  # after every config: a run cut short keeps what it measured
                    write_report(args.out, header + ops, rows, summary(args, sizes),
                                 pending=configs[i + 1:])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    add_ratios(rows)
    text = summary(args, sizes)
    print('\n' + text + '\n\n' + table(rows), flush=True)
    if args.out:
        write_report(args.out, header + ops, rows, text)
    return 0 if all(r.status == 'ok' for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
