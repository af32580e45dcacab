"""Runs of ``tools/benchmark_lt.py``: each suite row's config is trained and tested in its own
work dir, once per seed, on the embedded data of a preset.

The config of a run is the demo config itself (demo preset, default ``--out``, no seed) or a
generated *overlay* ``<out>/configs/<name>.py``: ``_base_ = <the demo config>`` plus the fields
that differ, merged by mmengine's ``Config`` like any derived config (:func:`retarget`). The
differing fields are computed on the loaded config, field by field (:func:`run_config`): paths
under the embedded data root move to the preset's root, paths under the default output folder
to ``--out``, ``num_classes`` of the demo's class count becomes the preset's, the seed is set,
and on a non-demo preset (or a ``--budget`` other than 1) the schedule is scaled to
:data:`BUDGETS`. No config text is rewritten.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..fileio import atomic_write_json, atomic_write_text
from .suites import DEFAULT_OUT, ROOT, ArgItem, Row, task_of

# Benches of several seeds make their runs from threads of one process (benchmark_lt --jobs);
# mmengine's Config.fromfile is not thread-safe (its pkg_resources lookup of a _base_ scope
# fails when raced), so the overlay configs are written and checked one at a time.
_CONFIG_LOCK = threading.Lock()

#: --preset P (other than demo): each run gets this fraction of its demo config's epochs (at
#: least 1; --budget overrides it, on the demo preset too). bench has ~3x (cls) / 2.5x (det)
#: the demo's training images.
#: Chosen by convergence, measured on 2 quiet cores (docs/benchmarks/bench_suite.md): classification
#: CE / IIF top-1 25.7 / 6.8 at 1/4 (4.6-4.8 min per run), 83.1 / 82.6 at 1 (14.6 min);
#: detection CE segm AP 0.5 at 1/6 (7.9 min), 1.0 at 1/3 (9.7 min), 27.0 at 1 (25.9 min).
#: Fractions that fit 1 hour leave the runs far from convergence, so the default is the whole
#: demo schedule (about 4 hours for --suite all on 2 cores; runs are reused, see --rows).
BUDGETS = {'cls': 1.0, 'det': 1.0}
#: epochs of a shared-tier run (``Row.retrain_from``: only the classifier trains, on the frozen
#: CE model), per task: a third of the CE demo schedule (30 / 6 epochs), as the decoupled IIF
#: demo configs; every row of the tier, the control included, gets the same count (scaled by
#: the budget, as the CE model it retrains)
RETRAIN_EPOCHS = {'cls': 10, 'det': 2}
#: a shared-tier detector: everything but the RoI box head frozen and run without autograd,
#: only the box loss computed (:class:`ltr_plugins.mmdet.detectors.BoxHeadRetrainDetector`)
DET_RETRAIN_TYPE = 'BoxHeadRetrainDetector'
#: the detector types :data:`DET_RETRAIN_TYPE` can stand for (same constructor arguments)
DET_TWO_STAGE_TYPES = ('MaskRCNN', 'FasterRCNN', 'TwoStageDetector')
#: the work dir of a group of shared-tier detection runs of one seed (:meth:`Bench.run_group`)
#: is ``<GROUP_RUN>_<name of the run they retrain>``
GROUP_RUN = 'head-group'
#: the embedded data root of the demo configs; preset P lives at ``data/P``
DEMO_DATA_ROOT = 'data/demo'


def threads_per_run() -> int:
    """The intra-op threads of each run: this process's torch count, which the runs' processes
    get too (same environment: ``OMP_NUM_THREADS``, else torch's default for the machine). A
    run's numbers are bit-identical only at the same count, so each run records it."""
    import torch
    return torch.get_num_threads()


def scaled_epochs(epochs: int, task: str) -> int:
    """The --preset budget of a config trained for ``epochs`` on the demo preset."""
    return max(1, math.floor(epochs * BUDGETS[task] + 0.5))


def budget_of(preset: str, task: str) -> Optional[float]:
    """The fraction of its demo epochs a ``task`` run trains for on ``preset``: None for the
    configs as they are (the demo preset at budget 1), else :data:`BUDGETS` of the task (the
    demo preset too when ``--budget`` sets a fraction other than 1)."""
    return None if preset == 'demo' and BUDGETS[task] == 1.0 else BUDGETS[task]


def _split(path: str) -> list:
    return [p for p in path.split('/') if p not in ('', '.')]


def _under(path: str, root: str) -> Optional[str]:
    """The part of ``path`` below ``root`` ('' for ``root`` itself, keeping a trailing '/'),
    compared folder by folder; None when ``path`` is not under ``root``."""
    parts, root_parts = _split(path), _split(root)
    if parts[:len(root_parts)] != root_parts or not root_parts:
        return None
    rest = '/'.join(parts[len(root_parts):])
    return rest + ('/' if path.endswith('/') and rest else '')


def _join(root: str, rest: str, trailing: bool) -> str:
    root = root.rstrip('/')
    if rest:
        return f'{root}/{rest}'
    return root + ('/' if trailing else '')


def rebase_path(value: str, preset: str, out_rel: str) -> str:
    """A path of a demo config (or a prepare step's argument) for a run on ``preset`` with the
    output folder ``out_rel``: under :data:`DEMO_DATA_ROOT` it moves to ``data/<preset>``; under
    :data:`DEFAULT_OUT` it moves to ``out_rel``, and (on a budget, :func:`budget_of`) a
    checkpoint ``epoch_N.pth`` of the run it names follows that run's scaled schedule. Anything
    else is returned unchanged. Paths are compared folder by folder, e.g. ``mydata/demo/x`` is not
    under ``data/demo``."""
    rest = _under(value, DEMO_DATA_ROOT)
    if rest is not None and preset != 'demo':
        return _join(f'data/{preset}', rest, value.endswith('/'))
    rest = _under(value, DEFAULT_OUT)
    if rest is None or not rest:
        return value
    parts = rest.split('/')
    if len(parts) >= 2 and budget_of(preset, task_of(parts[0])) is not None:
        name = parts[-1]
        if name.startswith('epoch_') and name.endswith('.pth') \
                and name[len('epoch_'):-len('.pth')].isdigit():
            epochs = int(name[len('epoch_'):-len('.pth')])
            parts[-1] = f'epoch_{scaled_epochs(epochs, task_of(parts[0]))}.pth'
            rest = '/'.join(parts)
    return _join(out_rel, rest, value.endswith('/'))


def scale_schedule(d: dict, task: str) -> None:
    """Scale the schedule of the config dict ``d`` (in place) to the budget of ``task``
    (:func:`set_epochs`)."""
    set_epochs(d, scaled_epochs(d['train_cfg']['max_epochs'], task))


def set_epochs(d: dict, new: int) -> None:
    """Set the schedule of the config dict ``d`` (in place) to ``new`` epochs: max_epochs,
    epoch-based scheduler bounds / T_max / milestones scaled (each decay kept inside the
    shorter run), checkpoint interval, one validation at the end at most."""
    epochs = d['train_cfg']['max_epochs']
    d['train_cfg']['max_epochs'] = new
    if 'val_interval' in d['train_cfg']:
        d['train_cfg']['val_interval'] = new
    if 'val_begin' in d['train_cfg']:
        d['train_cfg']['val_begin'] = new + 1 if d['train_cfg']['val_begin'] > epochs else 1
    if 'max_epochs' in d:
        d['max_epochs'] = new
    scheds = d.get('param_scheduler') or []
    for sch in [scheds] if isinstance(scheds, dict) else scheds:
        if not sch.get('by_epoch', True):
            continue  # iteration-based warm-up stays as is
        for k in ('begin', 'end', 'T_max'):
            if k in sch:
                sch[k] = new if sch[k] >= epochs else math.floor(sch[k] * new / epochs + 0.5)
        if 'milestones' in sch:  # keep each decay inside the shorter run (a 1-epoch run: none)
            sch['milestones'] = [min(max(1, math.floor(m * new / epochs + 0.5)), max(new - 1, 1))
                                 for m in sch['milestones']]
    ckpt = d.get('default_hooks', {}).get('checkpoint')
    if ckpt:
        ckpt['interval'] = new


def head_only(d: dict, task: str, config: str, retrained: Optional[dict] = None) -> None:
    """Make the config dict ``d`` (in place) a shared-tier run: everything but the classifier
    frozen (classification: the backbone with its BN statistics, ``SmallConvNet(frozen=True)``;
    detection: :data:`DET_RETRAIN_TYPE`) and :data:`RETRAIN_EPOCHS` epochs (scaled to the
    budget). ``retrained``: the model config of the run whose weights are loaded; its trunk
    (classification: the backbone; detection: backbone and neck) replaces ``d``'s, since the
    frozen weights are that model's (a half-width trunk under a full-width row would load with
    mismatched shapes, which mmengine only warns about). Raises ValueError naming ``config``
    for a model it cannot freeze that way."""
    model = d['model']
    trunk = ('backbone', ) if task == 'cls' else ('backbone', 'neck')
    for part in trunk if retrained else ():
        model[part] = copy.deepcopy(retrained[part])
    backbone = model.get('backbone', {})
    if task == 'cls':
        if backbone.get('type') != 'SmallConvNet':
            raise ValueError(f'{config}: the shared tier freezes the demo SmallConvNet backbone, '
                             f'this model has {backbone.get("type")!r}')
        backbone['frozen'] = True
    else:
        if model.get('type') not in DET_TWO_STAGE_TYPES or 'rpn_head' not in model:
            raise ValueError(f'{config}: the shared tier retrains the box head of a two-stage '
                             f'detector ({", ".join(DET_TWO_STAGE_TYPES)}), this model is '
                             f'{model.get("type")!r}')
        model['type'] = DET_RETRAIN_TYPE
    set_epochs(d, scaled_epochs(RETRAIN_EPOCHS[task], task))


def run_config(d: dict, config: str, preset: str, out_rel: str,
               seed: Optional[int] = None, retrain: bool = False,
               retrained: Optional[dict] = None) -> dict:
    """The config dict of a benchmark run of ``config`` (its loaded dict ``d``, not changed) on
    the embedded ``preset`` with the output folder ``out_rel`` (and, unless None, the training
    seed ``randomness.seed``).

    Every path value is rebased (:func:`rebase_path`), every ``num_classes`` equal to the
    demo's class count becomes the preset's, and on a budget (:func:`budget_of`) the schedule is
    scaled (:func:`scale_schedule`). ``retrain``: a shared-tier run (:func:`head_only`) of the
    model config ``retrained``.
    """
    from ..datasets.generator import PRESETS
    if preset not in PRESETS:
        raise ValueError(f'unknown embedded data preset {preset!r}; valid: {sorted(PRESETS)}')
    task = task_of(config)
    groups = 'det_groups' if task == 'det' else 'cls_groups'
    n_demo, n_new = sum(getattr(PRESETS['demo'], groups)), sum(getattr(PRESETS[preset], groups))

    def walk(obj):
        if isinstance(obj, dict):
            return {k: n_new if k == 'num_classes' and v == n_demo else walk(v)
                    for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(walk(v) for v in obj)
        return rebase_path(obj, preset, out_rel) if isinstance(obj, str) else obj

    new = walk(copy.deepcopy(d))
    if new.get('embedded_data'):
        new['embedded_data']['preset'] = preset
    if seed is not None:
        new['randomness'] = {**new.get('randomness', {}), 'seed': seed}
    if budget_of(preset, task) is not None:
        scale_schedule(new, task)
    if retrain:
        head_only(new, task, config, retrained)
    return new


def overlay(base: Any, new: Any) -> Any:
    """The fields of ``new`` that differ from ``base``, as a derived config's body: mmengine
    merges a dict into the base's dict key by key and replaces anything else (lists whole), so a
    changed list is given whole and a dict replacing a non-dict carries ``_delete_=True``."""
    if isinstance(new, dict) and isinstance(base, dict):
        if set(base) - set(new):  # a key dropped: replace the whole dict
            return dict(new, _delete_=True)
        return {k: overlay(base[k], v) if k in base else v for k, v in new.items()
                if k not in base or base[k] != v}
    if isinstance(new, dict):
        return dict(new, _delete_=True)
    return new


def retarget(config: str, out_path: str, preset: str, out_rel: str,
             seed: Optional[int] = None, retrain: bool = False,
             loaded: Optional[dict] = None, retrained: Optional[dict] = None) -> dict:
    """Write the config of a benchmark run of ``config`` (:func:`run_config`) to ``out_path``
    as an overlay: ``_base_ = <config>`` and the differing fields (:func:`overlay`); return
    that run config (a dict). ``loaded``: ``config`` already loaded (not changed);
    ``retrained``: the model config a shared-tier run retrains (:func:`head_only`). Raises
    RuntimeError naming ``out_path`` if mmengine's merge does not give exactly the run's
    config."""
    from mmengine.config import Config
    config = osp.abspath(config)
    d = Config.fromfile(config).to_dict() if loaded is None else loaded
    new = run_config(d, config, preset, out_rel, seed, retrain, retrained)
    body = overlay(d, new)
    seed_note = '' if seed is None else f', training seed {seed}'
    if retrain:
        seed_note += ', only the classifier trained (shared tier)'
    text = ('# Generated by ltr_plugins.benchmarking.runner (do not edit: rewritten by every '
            f'benchmark call):\n# {osp.basename(config)}\n# on the embedded {preset!r} data'
            f'{seed_note}, runs under {out_rel}.\n'
            f'_base_ = {config!r}\n\n' + (Config(body).pretty_text if body else ''))
    if osp.isfile(out_path):
        with open(out_path, encoding='utf-8') as f:
            if f.read() == text:
                return new
    os.makedirs(osp.dirname(out_path) or '.', exist_ok=True)
    atomic_write_text(out_path, text)
    merged = Config.fromfile(out_path).to_dict()
    if merged != new:
        diff = sorted(k for k in set(merged) | set(new) if merged.get(k) != new.get(k))
        raise RuntimeError(f'{out_path}: the overlay of {config} does not merge into the run '
                           f'config (top-level fields differing: {diff})')
    return new


def runs_named(d: Any) -> List[str]:
    """The runs whose files the (loaded) config dict ``d`` names: the first folder of every
    path value under :data:`DEFAULT_OUT`, in order, once each (e.g. VL-LTR stage 1's
    ``image_init``, the CE model's checkpoint)."""
    names: List[str] = []

    def walk(obj):
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)
        elif isinstance(obj, str):
            rest = _under(obj, DEFAULT_OUT)
            if rest and rest.split('/')[0] not in names:
                names.append(rest.split('/')[0])
    walk(d)
    return names


def config_of_run(name: str, referrer: str) -> str:
    """The demo config (relative to :data:`ROOT`) whose benchmark run is ``name``
    (``configs/*/demo/<name>.py``); ValueError naming ``referrer`` (the config that names the
    run) when there is not exactly one."""
    import glob
    found = sorted(glob.glob(osp.join(ROOT, 'configs', '*', 'demo', name + '.py')))
    if len(found) != 1:
        raise ValueError(f'{referrer} names files of the benchmark run {name!r} '
                         f'(under {DEFAULT_OUT}/), which is the run of '
                         f'{"no" if not found else len(found)} demo config(s) '
                         f'configs/*/demo/{name}.py; it cannot be made first')
    return osp.relpath(found[0], ROOT)


def rel_to_root(path: str) -> str:
    """``path`` relative to the repository root when inside it, else unchanged."""
    return osp.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def last_checkpoint_in(work_dir: str) -> str:
    """The checkpoint that ``<work_dir>/last_checkpoint`` names, taken from ``work_dir``:
    mmengine records its absolute path, which in a copied or moved ``--out`` still points into
    the folder the run was made in (a file that may be gone since, or another run's). Raises
    FileNotFoundError naming both when the file is not in ``work_dir``."""
    record = osp.join(work_dir, 'last_checkpoint')
    with open(record) as f:
        name = osp.basename(f.read().strip())
    path = osp.join(work_dir, name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{record} names the checkpoint {name}, which is not in '
                                f'{work_dir}')
    return path


def digest(obj: Any) -> str:
    """A short digest of a JSON-like value (dict keys in sorted order)."""
    text = json.dumps(obj, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def run_label(name: str, config: str, *details: str) -> str:
    """How a ``[benchmark]`` line names a run: ``name (config, details...)``. A run made on
    the way (the model another row starts from: its name is its config) is named once."""
    inside = ([] if name == config else [config]) + [d for d in details if d]
    return name + (f' ({", ".join(inside)})' if inside else '')


class Bench:
    """Where runs go and which data they use; runs are trained / tested through
    ``python -m ltr_plugins.tools.train`` / ``.test`` in subprocesses (cwd :data:`ROOT`).

    Args:
        out: the output folder (one work dir per config under it).
        preset: the embedded data preset.
        force: rerun finished runs.
        seed: training seed (``randomness.seed``); None: the config's.
        jobs: how many benches make runs at the same time (``benchmark_lt --jobs``); recorded
            in each run's metrics, as its wall time is measured while sharing the cores.
    """

    def __init__(self, out: str, preset: str = 'demo', force: bool = False,
                 seed: Optional[int] = None, jobs: int = 1):
        self.out, self.preset, self.force, self.seed = out, preset, force, seed
        self.jobs = jobs
        #: (run name, minutes) of every run this bench made, in order (see :meth:`_made_since`)
        self.made: List[Tuple[str, float]] = []
        # once per call (a bench is one call's seed): configs as loaded, their run configs by
        # path, :meth:`made_from` by row (and form)
        self._loaded: Dict[str, dict] = {}
        self._runs: Dict[str, dict] = {}
        self._made_from: Dict[Tuple[Row, bool], Dict[str, str]] = {}
        self._not_reused: set = set()  # runs :meth:`finished` said so of (once each)

    def work_dir(self, config: str, retrain_from: Optional[str] = None) -> str:
        """The work dir of ``config``'s run (``retrain_from``: its shared-tier run on that
        config's model, see :attr:`Row.run_name`)."""
        return osp.join(self.out, Row('', config, retrain_from=retrain_from).run_name)

    def config(self, config: str, retrain_from: Optional[str] = None) -> str:
        """The config to run: ``config`` itself on the demo preset with the default --out, else
        its overlay ``<out>/configs/<name>.py`` (not in the work dir: the runner dumps its
        resolved config there under the same name), with this bench's seed if it has one;
        ``retrain_from``: the shared-tier overlay (:func:`head_only`; the model it retrains is
        loaded at run time)."""
        retrain = retrain_from is not None
        if self.preset == 'demo' and self.out == osp.join(ROOT, DEFAULT_OUT) \
                and self.seed is None and not retrain and self.budget(config) is None:
            return config
        path = osp.join(self.out, 'configs',
                        osp.basename(self.work_dir(config, retrain_from)) + '.py')
        loaded = self.load(config)
        retrained = self.load(retrain_from)['model'] if retrain else None
        with _CONFIG_LOCK:
            run = retarget(osp.join(ROOT, config), path, self.preset, self.out_rel(),
                           self.seed, retrain, loaded, retrained)
        self._runs[path] = run
        return path

    def load(self, config: str) -> dict:
        """The config file ``config`` (relative to :data:`ROOT`, or absolute) as mmengine
        resolves it, every ``_base_`` merged; loaded once per bench (mmengine scans the
        model-index files of every ``mmdet::`` base on each load), a copy returned."""
        from mmengine.config import Config
        path = osp.join(ROOT, config)
        if path not in self._loaded:
            with _CONFIG_LOCK:
                self._loaded[path] = Config.fromfile(path).to_dict()
        return copy.deepcopy(self._loaded[path])

    def config_digest(self, config: str, retrain_from: Optional[str] = None,
                      portable: bool = True) -> str:
        """The :func:`digest` of the config ``config``'s run is made from (:meth:`config`,
        every ``_base_`` merged; ``portable``: with :meth:`portable` paths): an edit of any
        value in it or in a file it inherits changes it, a comment or a reformatting does not."""
        path = self.config(config, retrain_from)
        run = self._runs[path] if path in self._runs else self.load(path)
        return digest(self.portable(run) if portable else run)

    def portable(self, obj: Any) -> Any:
        """The JSON-like value ``obj`` with every path under this bench's output folder (in
        any string or dict key, absolute or as :meth:`out_rel`) written ``<out>/...``: what a
        run is made from does not depend on where ``--out`` is, so a copied or moved folder
        reuses its runs."""
        if isinstance(obj, dict):
            return {self.portable(k): self.portable(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.portable(v) for v in obj)
        if isinstance(obj, str):
            for root in (self.out, self.out_rel()):  # _under alone takes '/a/b' for 'a/b'
                rest = _under(obj, root) if obj.startswith(root) else None
                if rest is not None:
                    return '<out>' + (f'/{rest}' if rest else '')
        return obj

    def out_rel(self) -> str:
        """``out`` relative to the repository root when inside it (as configs refer to it)."""
        return rel_to_root(self.out)

    def arg(self, item: ArgItem) -> str:
        """A prepare-step argv item with config / checkpoint references resolved."""
        if isinstance(item, tuple):
            kind, config = item
            if kind != 'last_checkpoint':
                raise ValueError(f'prepare-step item {item!r}: expected (\'last_checkpoint\', '
                                 'CONFIG)')
            return self.last_checkpoint(config)
        if item.startswith('configs/') and '/demo/' in item and item.endswith('.py'):
            return self.config(item)
        return rebase_path(item, self.preset, self.out_rel())

    def last_checkpoint(self, config: str) -> str:
        """Train ``config`` (as a benchmark run) if needed; its last checkpoint."""
        self.run(Row(config, config))
        return last_checkpoint_in(self.work_dir(config))

    def named_runs(self, row: Row) -> List[str]:
        """The configs of the runs whose files ``row``'s config names (:func:`runs_named`,
        e.g. VL-LTR stage 1 the CE model it starts from), less the config's ``load_from``
        where the row replaces it and the row's own run."""
        own = Row('', row.config).run_name
        d = self.load(row.config)
        if row.load_from or row.retrain_from:  # e.g. OLTR stage 2 from CE, not from stage 1
            d.pop('load_from', None)
        return [config_of_run(name, row.config) for name in runs_named(d) if name != own]

    def made_from(self, row: Row, portable: bool = True) -> Dict[str, str]:
        """What ``row``'s run is made from, as digests: ``config``, its run config
        (:meth:`config_digest`); every run it reads (the model it starts from,
        retrains or tests, a run its config names), by run name, that run's :meth:`fingerprint`;
        every ``prepare`` step, by output file, the digest of its arguments with each run
        they read replaced by that run's fingerprint. Computed from the configs as they are
        now, nothing is run; recorded with the run's metrics, so :meth:`finished` redoes a run
        whose configs changed since, or whose sources did. Paths under ``--out`` are written
        ``<out>/...`` (:meth:`portable`); ``portable=False``: as they are, the records of runs
        made before 2026-12-07 (:meth:`finished` still reuses those)."""
        key = (row, portable)
        if key not in self._made_from:
            keep = self.portable if portable else (lambda obj: obj)
            parts = {'config': self.config_digest(row.config, row.retrain_from, portable)}
            for config in [*self.named_runs(row), row.load_from, row.retrain_from,
                           row.checkpoint_from]:
                if config:
                    parts[Row('', config).run_name] = self.fingerprint(Row(config, config),
                                                                       portable)
            for creates, argv in row.prepare:
                parts[keep(self.arg(creates))] = digest(
                    [self.fingerprint(Row(a[1], a[1]), portable) if isinstance(a, tuple)
                     else keep(self.arg(a)) for a in argv])
            self._made_from[key] = parts
        return self._made_from[key]

    def fingerprint(self, row: Row, portable: bool = True) -> str:
        """The :func:`digest` of :meth:`made_from`: equal for two runs made from the same
        configs and sources (the code is not part of it: see ``--force``)."""
        return digest(self.made_from(row, portable))

    def prepare(self, row: Row) -> None:
        """Make what ``row``'s run reads before it starts: the runs its config names
        (:meth:`named_runs`; each a run of its own, reused when finished), then its
        ``prepare`` steps (e.g. anchor sentence selection before an LGR run) whose output is
        missing or was made from other inputs (its :meth:`made_from` part, kept in
        ``<output>.made_from``)."""
        for config in self.named_runs(row):
            self.last_checkpoint(config)
        parts = self.made_from(row)
        for creates, argv in row.prepare:
            creates = self.arg(creates)
            now = parts[self.portable(creates)]
            record = osp.join(ROOT, creates + '.made_from')
            made = None
            if osp.isfile(record):
                with open(record) as f:
                    made = f.read().strip()
            if made not in (None, now) and \
                    made == self.made_from(row, portable=False).get(creates):
                made = now  # recorded with the paths as they are (before 2026-12-07)
                atomic_write_text(record, now + '\n')
            if self.force or not osp.exists(osp.join(ROOT, creates)) or made != now:
                subprocess.run([sys.executable, *[self.arg(a) for a in argv]], cwd=ROOT,
                               check=True)
                atomic_write_text(record, now + '\n')

    def _made_since(self, mark: int) -> Dict[str, float]:
        """``{run name: minutes}`` of the runs made since ``len(self.made)`` was ``mark``."""
        return dict(self.made[mark:])

    def run(self, row: Row) -> dict:
        """Train (unless ``row.checkpoint_from``) and test ``row``; its metrics, with the
        ``budget`` and the wall time in ``minutes``. Runs it needs and makes on the way (the model
        it starts from, a prepare step's checkpoint) are runs of their own, with their own
        metrics: their time is not in ``minutes`` but in ``sources`` (``{run name: minutes}``),
        so a table counts each run once. A finished run is reused unless ``force``."""
        name, config, base = row.name, row.config, row.retrain_from
        work_dir = self.work_dir(config, base)
        metrics_file = osp.join(work_dir, 'test_metrics.json')
        if not self.force or row.run_name in dict(self.made):  # --force: made once a call
            done = self.finished(row, quiet=True)
            if done:
                return done
        start, mark = time.time(), len(self.made)
        py = sys.executable
        self.prepare(row)
        os.makedirs(work_dir, exist_ok=True)
        cfg = self.config(config, base)
        if row.checkpoint_from:
            ckpt = self.last_checkpoint(row.checkpoint_from)
            subprocess.run([py, '-m', 'ltr_plugins.tools.test', cfg, ckpt, '--work-dir',
                            work_dir, '--metrics-out', metrics_file], cwd=ROOT, check=True)
        else:  # train, then test the last checkpoint, in one process (see .train_test)
            extra = []
            if row.load_from or row.retrain_from:
                source = self.last_checkpoint(row.retrain_from or row.load_from)
                extra = ['--cfg-options', f'load_from={source}']
            subprocess.run([py, '-m', 'ltr_plugins.benchmarking.train_test', cfg, '--work-dir',
                            work_dir, '--metrics-out', metrics_file, *extra], cwd=ROOT,
                           check=True)
        with open(metrics_file) as f:
            metrics = json.load(f)
        sources = self._made_since(mark)
        metrics['minutes'] = (time.time() - start) / 60 - sum(sources.values())
        metrics['sources'] = sources
        metrics['jobs'], metrics['threads'] = self.jobs, threads_per_run()
        metrics['made_from'] = self.made_from(row)
        self.made.append((row.run_name, metrics['minutes']))
        metrics['budget'] = self.budget(config)
        if row.checkpoint_from:
            metrics['checkpoint'] = ckpt
        atomic_write_json(metrics_file, metrics)
        seed = '' if self.seed is None else f'seed {self.seed}'
        print(f'[benchmark] {run_label(name, config, seed)} done in '
              f'{metrics["minutes"]:.1f} min', flush=True)
        return metrics

    def run_group(self, rows: Sequence[Row]) -> Dict[Row, dict]:
        """Train the unfinished shared-tier runs among ``rows`` (same ``retrain_from``)
        together, their classifiers on one frozen trunk pass per batch, and
        test each (:mod:`.head_group`; a run that would not train exactly as alone in the group
        trains alone, in the same process). A grouped run starts from the weights of its run
        alone and draws the random stream of the group's first run alone, whatever the other
        members (:class:`~ltr_plugins.retrain_group.RetrainGroup`), so a run to be made that
        may join the group is made with the first of ``rows`` (made again, to the same
        numbers), and when that first run is to be made, every run trained in a group is made
        again with it; a run made outside a group, or in one led by another run, counts as to
        be made. The runs then have the numbers of a call on a fresh ``--out``. Returns
        ``{row: metrics}`` of the runs made (none when fewer than two are to be made, but for
        one that trained alone last time: :meth:`run` makes it). Each run's ``minutes`` is
        its own test (or, alone, its whole run) plus an equal share of the rest of the call
        (the group's training, start-up), so the minutes of the runs add up to the wall time;
        runs made on the way (the model they retrain, if not made yet) are runs of their own,
        in each run's ``sources`` (as :meth:`run`)."""
        members = [row for row in rows if row.retrain_from and not row.checkpoint_from]

        def outside(row: Row) -> bool:  # made by :meth:`run`, not by a group (head_group)
            return len(members) > 1 and 'made_from' in self.recorded(row) and \
                'group' not in self.recorded(row)

        def alone(row: Row) -> bool:  # made by head_group as no group member
            return self.recorded(row).get('group') == []

        first = members[0] if members else None
        leader = first and osp.basename(osp.normpath(self.work_dir(first.config,
                                                                   first.retrain_from)))

        def misled(row: Row) -> bool:  # trained in a group led by another run: its stream
            return self.recorded(row).get('group', [leader])[:1] not in ([], [leader])
        needed = [row for row in members if self.force or not self.finished(row, quiet=True)
                  or outside(row) or misled(row)]
        todo = needed
        if any(not alone(row) for row in needed):
            todo = [row for row in members if row in needed or row is first or
                    (first in needed and not alone(row))]
        if len(todo) < 2 and not (todo and alone(todo[0])):  # a run that trains alone is
            return {}  # still made by head_group, which records it so ('group': [])
        if len({row.retrain_from for row in todo}) > 1:
            raise ValueError('run_group: the runs retrain on different models: '
                             f'{sorted({row.retrain_from for row in todo})}')
        start, mark = time.time(), len(self.made)
        py = sys.executable
        for row in todo:
            self.prepare(row)
        source = self.last_checkpoint(todo[0].retrain_from)
        members = []
        for row in todo:
            work_dir = self.work_dir(row.config, row.retrain_from)
            members += ['--member', self.config(row.config, row.retrain_from), work_dir,
                        osp.join(work_dir, 'test_metrics.json')]
        group_dir = osp.join(self.out, GROUP_RUN + '_' + Row('', todo[0].retrain_from).run_name)
        subprocess.run([py, '-m', 'ltr_plugins.benchmarking.head_group', '--work-dir',
                        group_dir, '--load-from', source, *members], cwd=ROOT, check=True)
        wall = (time.time() - start) / 60
        results = {}
        for row in todo:
            with open(osp.join(self.work_dir(row.config, row.retrain_from),
                               'test_metrics.json')) as f:
                results[row] = json.load(f)
        grouped = [m for m in results.values() if m['group']] or list(results.values())
        sources = self._made_since(mark)
        shared = (wall - sum(sources.values()) - sum(m['own_minutes'] for m in results.values())
                  ) / len(grouped)
        for row, metrics in results.items():
            metrics['minutes'] = metrics['own_minutes'] + (shared if metrics in grouped else 0)
            metrics['sources'] = sources
            metrics['jobs'], metrics['threads'] = self.jobs, threads_per_run()
            metrics['made_from'] = self.made_from(row)
            self.made.append((row.run_name, metrics['minutes']))
            metrics['budget'] = self.budget(row.config)
            atomic_write_json(osp.join(self.work_dir(row.config, row.retrain_from),
                                       'test_metrics.json'), metrics)
            print(f'[benchmark] {run_label(row.name, row.config, f"seed {self.seed}")} done: '
                  f'{metrics["minutes"]:.1f} min' +
                  (f' (trained with {len(metrics["group"]) - 1} others on one trunk)'
                   if metrics['group'] else ''), flush=True)
        return results

    def flops(self, row: Row) -> Dict[str, float]:
        """GFLOPs of ``row``'s own run, counted on one batch (:mod:`.flops`): ``train_gflop``
        (0 for a ``checkpoint_from`` row: it only tests; the run it starts from is not
        included) and ``test_gflop``. The weights (a detector's proposals and detections, and
        so its cost, depend on them) are those of the run it starts from (``retrain_from``,
        ``load_from``, ``checkpoint_from``) where it has one, else its own trained weights when
        finished, else its initialisation. A run trained in a group of K (:meth:`run_group`)
        counts a K-th of the trunk forward that the group ran once for all, in training and, tested
        in the group's pass (``test_group``), in its test. Counts are cached
        in ``<out>/flops/<run name>.json`` (they do not depend on the seed) with the digest of the
        run config they were counted on: an edited config is counted again."""
        counted = self._counted_flops(row)
        metrics = self.finished(row, quiet=True)
        shares = {}
        for part, key in (('train', 'group'), ('test', 'test_group')):
            runs = len(metrics.get(key) or [])  # the runs that ran this part's trunk once
            shares[f'{part}_gflop'] = counted[f'{part}_gflop'] - (
                counted[f'{part}_trunk_gflop'] * (1 - 1 / runs) if runs > 1 else 0)
        return shares

    def _counted_flops(self, row: Row) -> Dict[str, float]:
        """:meth:`flops` of ``row``'s run made alone (cached)."""
        from .flops import count_run_flops
        cache = osp.join(self.out, 'flops', row.run_name + '.json')
        config = self.made_from(row)['config']
        if osp.isfile(cache) and not self.force:
            with open(cache) as f:
                cached = json.load(f)
            # else counted before group tests, or on a config edited since: recount
            if 'test_trunk_gflop' in cached and cached.get('config', config) == config:
                return cached
        source = row.retrain_from or row.load_from or row.checkpoint_from
        ckpt_dir = self.work_dir(source or row.config, None if source else row.retrain_from)
        ckpt = last_checkpoint_in(ckpt_dir) \
            if osp.isfile(osp.join(ckpt_dir, 'last_checkpoint')) else None
        counted = count_run_flops(osp.join(ROOT, self.config(row.config, row.retrain_from)),
                                  ckpt)
        result = {'train_gflop': 0.0 if row.checkpoint_from else counted['train_gflop'],
                  'train_trunk_gflop': 0.0 if row.checkpoint_from else
                  counted['train_trunk_gflop'], 'test_gflop': counted['test_gflop'],
                  'test_trunk_gflop': counted['test_trunk_gflop'], 'config': config}
        os.makedirs(osp.dirname(cache), exist_ok=True)
        atomic_write_json(cache, result)
        return result

    def budget(self, config: str) -> Optional[float]:
        """The fraction of its demo epochs ``config`` trains for here (:func:`budget_of`)."""
        return budget_of(self.preset, task_of(config))

    def recorded(self, row: Row) -> Dict[str, Any]:
        """The metrics file of ``row``'s run as it is, or {} when there is none."""
        path = osp.join(self.work_dir(row.config, row.retrain_from), 'test_metrics.json')
        if not osp.isfile(path):
            return {}
        with open(path) as f:
            return json.load(f)

    def finished(self, row: Row, quiet: bool = False) -> Dict[str, Any]:
        """The metrics of ``row``'s finished run, or {} (shown as '-'; ``quiet``: no line for a
        run not made). A run does not count, and is redone, when it was made on another budget
        or with another thread count (:func:`threads_per_run`), or from other configs or
        sources (:meth:`made_from`: a config edited since, a run it reads made again); runs
        that record none of these (made before each was recorded: the thread count since
        2026-12-05, the sources since 2026-12-06) are taken as they are."""
        label = run_label(row.name, row.config)
        metrics = self.recorded(row)
        if not metrics:
            if not quiet:
                print(f'[benchmark] {label}: not run', flush=True)
            return {}
        if metrics.get('budget') != self.budget(row.config):
            print(f'[benchmark] {label}: the finished run has budget {metrics.get("budget")}, '
                  f'this call {self.budget(row.config)}: not reused', flush=True)
            return {}
        threads = threads_per_run()
        if metrics.get('threads', threads) != threads:
            print(f'[benchmark] {label}: the finished run was made with {metrics["threads"]} '
                  f'threads, this call has {threads} (other rounding, other numbers): not '
                  'reused', flush=True)
            return {}
        recorded = metrics.get('made_from')  # an old run's sources are not worked out at all
        if recorded is not None and recorded != (now := self.made_from(row)):
            if recorded == self.made_from(row, portable=False):  # recorded with the paths as
                metrics['made_from'] = now  # they are (before 2026-12-07), the same sources
                atomic_write_json(osp.join(self.work_dir(row.config, row.retrain_from),
                                           'test_metrics.json'), metrics)
                return metrics
            # a prepared file is keyed by its path (a run by its name: no '/'): <out>/..., or
            # in a record made before 2026-12-07 the path of the folder it was made in
            changed = list(dict.fromkeys(
                'its config' if k == 'config' else f'the file {osp.basename(k)}'
                if '/' in k else f'the run {k}'
                for k in sorted(set(recorded) | set(now)) if recorded.get(k) != now.get(k)))
            if row not in self._not_reused:
                self._not_reused.add(row)
                print(f'[benchmark] {label}: changed since the run was made: '
                      f'{", ".join(changed)}; not reused', flush=True)
            return {}
        return metrics
