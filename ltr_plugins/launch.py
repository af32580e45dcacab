"""What ``tools/train.py`` and ``tools/test.py`` share: config setup, CPU distributed setup,
embedded-data preparation, runner construction and the results summary.

Works for mmdet and mmpretrain configs alike; the config's ``default_scope`` picks the registry.
"""
from __future__ import annotations

import argparse
import atexit
import os
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for tools)
from mmengine.logging import print_log

from .datasets.layout_check import require_complete_layout
from .repeatability import (add_repeatability_args, apply_repeatability_args, log_repeatability,
                            prepare_deterministic)

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')  # as mmdet's tools


def add_common_args(parser: argparse.ArgumentParser, work_dir_help: str) -> None:
    """The options tools/train.py and tools/test.py share (as mmdet's tools)."""
    parser.add_argument('--work-dir', help=f'{work_dir_help} (default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_epochs=2 '
                        'model.backbone.depth=18')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher (as mmdet): "pytorch" for torchrun '
                        '(tools/dist_*.sh), "slurm" for srun (tools/slurm_*.sh), "mpi" for '
                        'mpirun (Open MPI; MASTER_ADDR / MASTER_PORT from the environment)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    add_repeatability_args(parser)  # --seed, --deterministic, --threads


def parse_tool_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``), export ``LOCAL_RANK`` for torchrun, fold
    ``--seed`` / ``--deterministic`` into ``args.cfg_options`` and apply ``--threads``
    (:func:`ltr_plugins.repeatability.apply_repeatability_args`)."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    apply_repeatability_args(args)
    return args


def load_config(config: str, cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None, launcher: str = 'none') -> Config:
    """Read a config, apply ``--cfg-options``, and set ``work_dir`` and ``launcher``.

    ``config`` is a file or a package config name such as
    ``ltr_plugins::iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py``.
    ``work_dir`` priority: argument > config > ``./work_dirs/<config name>`` (as in mmdet).
    """
    from .mim import config_path
    config = config_path(config)  # a file, or `ltr_plugins::lvis/...` / `mmdet::...`
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'default_scope' not in cfg:
        raise ValueError(f'{config}: no default_scope; set it to "mmdet" or "mmpretrain"')
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    set_metric_out_dirs(cfg)
    return cfg


# Metrics of this package that write per-class / per-category csv files to ``out_dir``.
_CSV_METRICS = ('LongTailAccuracy', 'OpenSetLongTailAccuracy', 'LongTailLVISMetric')


def set_metric_out_dirs(cfg: Config) -> None:
    """Point this package's metrics without an ``out_dir`` at ``<work_dir>/val`` (validation
    during training) and ``<work_dir>/test`` (tools/test.py)."""
    for key, sub in (('val_evaluator', 'val'), ('test_evaluator', 'test')):
        evaluator = cfg.get(key)
        metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
        for metric in metrics:
            if isinstance(metric, dict) and metric.get('type') in _CSV_METRICS \
                    and metric.get('out_dir') is None:
                metric['out_dir'] = osp.join(cfg.work_dir, sub)


def enable_amp(cfg: Config) -> None:
    """Mixed precision: mmengine's ``AmpOptimWrapper`` (fp16 + dynamic loss scale) on GPU;
    on CPU, where that wrapper refuses to run and autocast supports bf16 only,
    :class:`ltr_plugins.optim.AutocastOptimWrapper` with bf16 (no loss scaling needed; mmcv's
    float32-only CPU nms / RoIAlign run in float32: :func:`enable_autocast_ops`)."""
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    if kind in ('AmpOptimWrapper', 'AutocastOptimWrapper'):
        print_log(f'mixed precision is already enabled in the config ({kind})', logger='current')
        return
    if kind != 'OptimWrapper':
        raise ValueError(f"--amp needs optim_wrapper.type='OptimWrapper', got {kind!r}")
    if torch.cuda.is_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
    else:
        wrapper.type = 'AutocastOptimWrapper'
        wrapper.dtype = 'bfloat16'


def enable_autocast_ops(cfg: Config) -> bool:
    """When ``cfg`` trains under autocast (``optim_wrapper.type='AutocastOptimWrapper'``, set
    by ``--amp`` on CPU or by the config), let mmcv's float32-only CPU nms / RoIAlign take
    bf16 / fp16 inputs (:func:`ltr_plugins.compat.patch_mmcv_cpu_ops_for_autocast`; a
    tool-side fix, not done on ``import ltr_plugins``). Returns whether the ops were patched."""
    wrapper = cfg.get('optim_wrapper') or {}
    if str(wrapper.get('type', '')).split('.')[-1] != 'AutocastOptimWrapper':
        return False
    from .compat import patch_mmcv_cpu_ops_for_autocast
    return patch_mmcv_cpu_ops_for_autocast()


def enable_tensorboard(cfg: Config) -> None:
    """Add mmengine's ``TensorboardVisBackend`` to ``cfg.visualizer.vis_backends``.

    The configs list only the ``LocalVisBackend`` (as mmdet's and mmpretrain's default
    runtimes, which keep the TensorBoard line commented out); ``--tensorboard`` adds it, so
    the same scalars (losses, learning rate, metrics) also go to TensorBoard event files under
    ``<work_dir>/<timestamp>/vis_data/``. Idempotent.

    Raises:
        ImportError: ``tensorboard`` is not installed (mmengine's backend writes through
            ``torch.utils.tensorboard``, which needs it).
        ValueError: the config has no ``visualizer``.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (needs tensorboard)
    except ImportError as e:
        raise ImportError('--tensorboard needs the tensorboard package: pip install tensorboard '
                          f'({e})') from e
    visualizer = cfg.get('visualizer')
    if not visualizer:
        raise ValueError(f'{cfg.filename}: --tensorboard needs a visualizer in the config '
                         '(e.g. the one of configs/_base_/mmdet_runtime.py)')
    backends = list(visualizer.get('vis_backends') or [])
    if not any(str(b.get('type', '')).split('.')[-1] == 'TensorboardVisBackend'
               for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends


_DET_VIS_HOOK = 'DetVisualizationHook'
_CLS_VIS_HOOK = 'VisualizationHook'


def enable_show_dir(cfg: Config, show_dir: str, score_thr: Optional[float] = None) -> None:
    """Draw the test predictions into ``show_dir``, one image per test image.

    As mmdet's / mmpretrain's own ``tools/test.py``: switches on the config's
    ``default_hooks.visualization`` — mmdet's ``DetVisualizationHook`` (``draw=True``,
    ``test_out_dir``; boxes and masks above ``score_thr``) or mmpretrain's
    ``VisualizationHook`` (``enable=True``, ``out_dir``, every sample: ``interval=1``). As in
    the upstream tools, mmdet's hook puts a relative ``show_dir`` under
    ``<work_dir>/<timestamp>/`` and names each file after its image; mmpretrain's hook takes
    ``show_dir`` as given (relative to the working directory) and writes
    ``<image name>_0.png`` (images with the same file name share one output file).

    Raises:
        ValueError: the config has no visualization hook of either kind.
    """
    hook = cfg.get('default_hooks', {}).get('visualization')
    kind = str(hook.get('type', '')).split('.')[-1] if hook else None
    if kind == _DET_VIS_HOOK:
        hook['draw'] = True
        hook['test_out_dir'] = show_dir
        if score_thr is not None:
            hook['score_thr'] = score_thr
    elif kind == _CLS_VIS_HOOK:
        hook['enable'] = True
        hook['out_dir'] = show_dir
        hook['interval'] = 1
    else:
        raise ValueError(f'{cfg.filename}: --show-dir needs default_hooks.visualization to be '
                         f'mmdet\'s {_DET_VIS_HOOK} or mmpretrain\'s {_CLS_VIS_HOOK}, got {kind!r}')


def _first_slurm_host(node_list: str) -> str:
    """First host name of a Slurm node list (``node[01-04]`` -> ``node01``), via scontrol."""
    import subprocess
    try:
        out = subprocess.run(['scontrol', 'show', 'hostnames', node_list], capture_output=True,
                             text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(f'--launcher slurm: cannot expand SLURM_NODELIST={node_list!r} with '
                           f'scontrol ({e}); set MASTER_ADDR') from e
    if not out:
        raise RuntimeError(f'--launcher slurm: scontrol gave no host for {node_list!r}')
    return out[0]


# launcher -> its variables for (rank, world size, local rank)
_LAUNCHER_ENV = {
    'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'),
    'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK'),
}


def export_launcher_env(launcher: str) -> None:
    """Set torch's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``MASTER_ADDR`` /
    ``MASTER_PORT`` from the variables of a Slurm (``srun``) or Open MPI (``mpirun``) launch,
    as mmengine's ``init_dist`` does: the master is the first host of ``SLURM_NODELIST``
    (slurm) or ``MASTER_ADDR`` (mpi, required); the port ``MASTER_PORT``, default 29500.
    Variables already set are kept. ``pytorch`` (torchrun sets them) and ``none``: nothing.

    Raises:
        RuntimeError: a launcher variable is missing (the tool was not started by srun /
            mpirun).
    """
    if launcher not in _LAUNCHER_ENV:
        return
    names = _LAUNCHER_ENV[launcher]
    missing = [n for n in names if n not in os.environ]
    if missing:
        starter = 'srun (tools/slurm_train.sh / slurm_test.sh)' if launcher == 'slurm' \
            else 'mpirun'
        raise RuntimeError(f'--launcher {launcher}: {", ".join(missing)} not set; start the '
                           f'tool through {starter}')
    rank, world, local = (os.environ[n] for n in names)
    os.environ.setdefault('RANK', rank)
    os.environ.setdefault('WORLD_SIZE', world)
    os.environ['LOCAL_RANK'] = local  # parse_tool_args set a default 0
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        if launcher == 'mpi':
            raise RuntimeError('--launcher mpi: set MASTER_ADDR (and MASTER_PORT) to the host '
                               'of rank 0')
        os.environ['MASTER_ADDR'] = _first_slurm_host(os.environ['SLURM_NODELIST'])


def destroy_process_group_at_exit() -> None:
    """Destroy the default process group, if any (registered with ``atexit`` by
    :func:`setup_distributed`).

    Left to interpreter shutdown, the gloo process group is torn down while Python finalises,
    and a rank can abort *after* its work is done (``terminate called without an active
    exception``, SIGABRT; seen once in a 2-rank ``tools/test.py`` run whose other rank had
    already gathered its results, and once under torchrun). PyTorch asks for
    ``destroy_process_group()`` before exit: it is done here while the interpreter is intact.

    ``destroy_process_group()`` alone does not free the group: the runner's DDP wrapper (its
    reducer holds the group) sits in reference cycles that only the cyclic garbage collector
    frees, so the C++ ``ProcessGroupGloo`` and its native threads (``pt_gloo_runloop`` x 2 and
    gloo's ``gloo_tcp_loop``, listed from ``/proc/self/task`` after this teardown in a
    ``tools/dist_train.sh`` rank) lived on into interpreter finalisation. ``gc.collect()`` here
    frees it, and its destructor joins those threads while Python is intact (issue 21; the
    abort itself was not reproduced in 40 runs, see docs/reliability.md).
    """
    import gc

    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    gc.collect()  # the last references to the group are in cycles (DDP wrapper, runner)


_TEARDOWN_REGISTERED = False


def setup_distributed(cfg: Config) -> None:
    """Prepare ``cfg`` for a multi-process launch (``cfg.launcher`` ``pytorch``, ``slurm`` or
    ``mpi``, as mmdet's tools).

    On GPUs mmengine's own ``init_dist`` is used (nccl; it reads the launcher's variables). On
    CPU it would call ``torch.cuda.set_device``, so we initialise a gloo process group here
    from the launcher's variables (:func:`export_launcher_env`; mmengine then skips its own)
    and build DDP without ``device_ids``. Buffers are not broadcast: stateful heads
    synchronise their own state. The process group is destroyed at exit
    (:func:`destroy_process_group_at_exit`).
    """
    global _TEARDOWN_REGISTERED
    if cfg.launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {cfg.launcher!r}')
    if cfg.launcher == 'none':
        return
    if not _TEARDOWN_REGISTERED:  # also for mmengine's own (GPU) group, created later
        atexit.register(destroy_process_group_at_exit)
        _TEARDOWN_REGISTERED = True
    if torch.cuda.is_available():
        return
    import torch.distributed as dist
    if not dist.is_initialized():
        export_launcher_env(cfg.launcher)
        dist.init_process_group(backend='gloo')
    cfg.env_cfg = cfg.get('env_cfg', {})
    cfg.env_cfg['dist_cfg'] = dict(backend='gloo')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                 broadcast_buffers=False)


def prepare_embedded_data(cfg: Config) -> None:
    """Generate the embedded data a config asks for with ``embedded_data=dict(preset, root,
    seed=0, tasks=(...))``. Idempotent; parallel ranks take turns (the generator's file lock)."""
    spec = cfg.get('embedded_data')
    if not spec:
        return
    from .datasets.generator import generate
    generate(spec['root'], preset=spec.get('preset', 'demo'), seed=spec.get('seed', 0),
             tasks=tuple(spec.get('tasks', ('det', 'cls'))))


def add_default_hooks(cfg: Config) -> None:
    """Append :class:`ltr_plugins.hooks.NumClassesCheckHook` to ``custom_hooks`` (once)."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'NumClassesCheckHook' for h in hooks):
        hooks.append(dict(type='NumClassesCheckHook'))
    cfg.custom_hooks = hooks


def build_runner(cfg: Config):
    """Build the mmengine runner (``runner_type`` in the config is honoured, as in mmdet),
    with the class-count check hook added; its log states the seed, deterministic mode and
    thread count (:func:`ltr_plugins.repeatability.describe`)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    setup_distributed(cfg)
    prepare_embedded_data(cfg)
    require_complete_layout(cfg)  # every file the run reads exists, else name them all
    add_default_hooks(cfg)
    prepare_deterministic(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    log_repeatability(runner)
    return runner


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: str, limit: int = 6) -> None:
    """Refuse a checkpoint that does not fit ``model`` (``tools/test.py``).

    mmengine's ``load_checkpoint`` only *warns* about missing and unexpected keys, so a
    checkpoint of another head (an OLTR checkpoint given to an IIF config) would be evaluated
    with randomly initialised classifier weights. Here a model **parameter** missing from the
    checkpoint, or a checkpoint key the model has no place for, raises ``ValueError`` listing
    them. Missing **buffers** are allowed and logged: they are set from the config (post-hoc
    IIF tests a plain checkpoint with the IIF weights of the config).

    The state dict is loaded into ``model`` (``strict=False``, after mmengine's ``module.``
    prefix revision), so heads that remap keys on loading (OLTR's hallucinator) are judged by
    what they actually take; the runner loads the same file again afterwards.
    """
    import re
    from collections import OrderedDict

    from mmengine.model import is_model_wrapper
    from mmengine.runner.checkpoint import _load_checkpoint
    model = model.module if is_model_wrapper(model) else model
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state.items())
    missing, unexpected = model.load_state_dict(state, strict=False)
    params = {name for name, _ in model.named_parameters()}
    missing_params = [k for k in missing if k in params]
    missing_buffers = [k for k in missing if k not in params]

    def listed(keys):
        if len(keys) <= limit:
            return ', '.join(keys)
        groups = {}  # many keys: by module (first two name components)
        for k in keys:
            prefix = '.'.join(k.split('.')[:2])
            groups[prefix] = groups.get(prefix, 0) + 1
        return ', '.join(f'{p}.* ({n})' for p, n in groups.items())

    if missing_params or unexpected:
        parts = []
        if missing_params:
            parts.append(f'model parameters missing from it: {listed(missing_params)}')
        if unexpected:
            parts.append(f'keys the model does not have: {listed(list(unexpected))}')
        raise ValueError(f'checkpoint {checkpoint} does not fit the model '
                         f'({type(model).__name__}): ' + '; '.join(parts)
                         + '. Is it a checkpoint of another head or config? Testing it would '
                         'evaluate untrained weights.')
    if missing_buffers:
        print_log(f'buffers not in the checkpoint, kept as the config sets them: '
                  f'{listed(missing_buffers)}', logger='current')


_DET_ORDER = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')


def format_results(metrics: Dict[str, float]) -> str:
    """A readable table of the metrics ``runner.test()`` returns.

    LVIS metrics (``lvis/segm_AP`` ...) become one row per IoU type with AP, AP50, AP75, APs,
    APm, APl, APr, APc, APf columns; everything else is listed as ``name: value``.
    """
    rows: Dict[str, Dict[str, float]] = {}
    other = []
    for key, value in metrics.items():
        name = key.split('/', 1)[-1]
        iou_type, _, item = name.partition('_')
        if key.startswith('lvis/') and item in _DET_ORDER:
            rows.setdefault(iou_type, {})[item] = value
        else:
            other.append(f'{key}: {value:.4f}' if isinstance(value, float) else f'{key}: {value}')
    lines = []
    if rows:
        cols = [c for c in _DET_ORDER if any(c in r for r in rows.values())]
        lines.append('| ' + ' | '.join(['type'] + cols) + ' |')
        lines.append('|' + '---|' * (len(cols) + 1))
        for iou_type, r in rows.items():
            # the lvis evaluator reports -1 for an area range without ground truth
            cells = [f'{r[c]:.3f}' if r.get(c, -1) >= 0 else '-' for c in cols]
            lines.append('| ' + ' | '.join([iou_type] + cells) + ' |')
    lines.extend(other)
    return '\n'.join(lines)
