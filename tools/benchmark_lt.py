"""Train and test a set of configs on the embedded data and write one results table.

    python tools/benchmark_lt.py --suite iif [--tasks cls det] [--out work_dirs/benchmark_lt]

Each config is trained with tools/train.py (fixed seed from the config) and its last checkpoint
evaluated with tools/test.py; the table (markdown + csv) has top-1 / many / medium / few for
classification and segm AP / APr / APc / APf (+ bbox AP) for detection, and the wall time of
each run. Existing results are reused unless --force (delete the run's work dir to redo it).
A row may start from another row's run: ``load_from=CONFIG`` trains from that run's last
checkpoint (two-stage methods such as OLTR), ``checkpoint_from=CONFIG`` only tests it with this
config (e.g. the plain model under the open-set protocol); see the ``oltr`` suite.

``--preset bench`` runs the same demo configs on the larger ``bench`` preset of the embedded data
(50 classification classes, 30 LVIS-format classes) with a fixed budget: each config is rewritten
(data root, class count, work-dir references) and its schedule scaled to ``BUDGETS[task]`` of
its demo epochs; the rewritten configs are saved under ``<out>/configs/``. ``--suite all`` is one
row per method (both tasks) and also writes the per-class plot of every run next to the table.

``--seeds 0 1 2`` (the default) trains and tests every row once per seed (``randomness.seed``;
the data stays the same), each seed in its own ``<out>/seed_<S>/``; the table gives the mean ±
standard deviation over the seeds and, for every row, the paired difference of its tail metric
(few / APr) to the suite's first row (CE) with a 95% Student-t interval over the seeds
(:mod:`ltr_plugins.benchmarking.stats`). A row is called higher or lower than CE only where
that interval excludes zero; otherwise the table says "not distinguishable".
"""
import argparse
import csv
import io
import json
import math
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_OUT = 'work_dirs/benchmark_lt'
sys.path.insert(0, ROOT)  # run from a checkout

from ltr_plugins.benchmarking.stats import paired_by_seed, summarize  # noqa: E402
from ltr_plugins.fileio import atomic_write_json, atomic_write_text  # noqa: E402


def _cls(method: str, name: str) -> str:
    """An embedded-data classification config: configs/<method>/demo/convnet_<name>_demo-cls.py"""
    return f'configs/{method}/demo/convnet_{name}_demo-cls.py'


def _det(method: str, name: str) -> str:
    """An embedded-data detection config:
    configs/<method>/demo/mask-rcnn_r18_fpn_<name>_demo-lvis.py"""
    return f'configs/{method}/demo/mask-rcnn_r18_fpn_{name}_demo-lvis.py'


CLS_CE, DET_CE = _cls('baselines', '1xb64-30e'), _det('baselines', 'sample1e-3_1xb8-6e')
SUITES = {
    'iif': {
        'cls': [('CE (linear)', CLS_CE),
                ('IIF (linear)', _cls('iif', 'iif-smooth_1xb64-30e')),
                ('cosine', _cls('cosine', 'cosine-s16_1xb64-30e')),
                ('cosine + IIF', _cls('iif', 'cosine-s16_iif-smooth_1xb64-30e'))],
        'det': [('CE (linear)', DET_CE),
                ('IIF (linear)', _det('iif', 'iif-raw_1xb8-6e')),
                ('cosine', _det('cosine', 'cosine-t20_sample1e-3_1xb8-6e')),
                ('cosine + IIF', _det('iif', 'iif-raw_cosine-t8_1xb8-6e'))],
    },
    'camc': {
        'cls': [('CE (linear)', CLS_CE),
                ('cosine s=4', _cls('cosine', 'cosine-s4_1xb64-30e')),
                ('cosine s=8', _cls('cosine', 'cosine-s8_1xb64-30e')),
                ('cosine s=16', _cls('cosine', 'cosine-s16_1xb64-30e')),
                ('cosine s=32', _cls('cosine', 'cosine-s32_1xb64-30e')),
                ('CAMC + cosine s=16', _cls('camc', 'camc_cosine-s16_1xb64-30e')),
                ('cosine s=16 + IIF', _cls('iif', 'cosine-s16_iif-smooth_1xb64-30e')),
                ('CAMC + cosine s=16 + IIF', _cls('camc', 'camc_cosine-s16_iif-smooth_1xb64-30e'))],
        'det': [('CE (linear)', DET_CE),
                ('cosine τ=20', _det('cosine', 'cosine-t20_sample1e-3_1xb8-6e')),
                ('CAMC + cosine τ=20', _det('camc', 'camc_cosine-t20_sample1e-3_1xb8-6e')),
                ('CAMC (train_target=pred) + cosine τ=20',
                 _det('camc', 'camc-pred_cosine-t20_sample1e-3_1xb8-6e')),
                ('IIF + cosine τ=8', _det('iif', 'iif-raw_cosine-t8_1xb8-6e')),
                ('CAMC + IIF + cosine τ=8', _det('camc', 'camc_iif-raw_cosine-t8_1xb8-6e'))],
    },
    # OLTR: stage 1 is the plain CE model (its checkpoint is reused, tested with the open-set
    # protocol); stage 2 trains from it (load_from). Optional third item of a row:
    #   checkpoint_from=CONFIG: do not train, test the last checkpoint of CONFIG's run
    #   load_from=CONFIG: train starting from the last checkpoint of CONFIG's run
    'oltr': {
        'cls': [('plain CE (stage 1)', _cls('oltr', 'oltr-stage1_1xb64-30e'),
                 dict(checkpoint_from=CLS_CE)),
                ('CE + class-aware fine-tune (control)',
                 _cls('oltr', 'classaware-stage2_1xb64-15e'),
                 dict(load_from=CLS_CE)),
                ('OLTR (stage 2)', _cls('oltr', 'oltr-stage2_1xb64-15e'),
                 dict(load_from=CLS_CE))],
        'det': [('CE (linear)', DET_CE),
                ('CE, 3-epoch fine-tune (control)',
                 _det('oltr', 'ce-finetune_sample1e-3_1xb8-3e'),
                 dict(load_from=DET_CE)),
                ('OLTR head (stage 2)', _det('oltr', 'oltr-stage2_sample1e-3_1xb8-3e'),
                 dict(load_from=DET_CE))],
    },
}
# VL-LTR: stage 2 reads the stage-1 checkpoint and anchor files at these (config-given) paths,
# so this suite needs the default --out (other --out / --preset values are rewritten, see
# retarget). Prepare steps run before a config's training when their output is missing:
# (output file, tool argv); an argv item ('last_checkpoint', CONFIG) is that run's last
# checkpoint (trained first if needed), a demo config path stands for its retargeted copy.
_VL_PRETRAIN = _cls('vlltr', 'vlltr-pretrain_1xb64-20e')
_VL_STAGE1 = 'work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls/'
_VL_ANSS = ['tools/vlltr/select_anchor_sentences.py', _VL_PRETRAIN,
            ('last_checkpoint', _VL_PRETRAIN), '--num-anchors', '8']


def _anchors(name: str, *extra: str):
    out = _VL_STAGE1 + name
    return dict(prepare=[(out, _VL_ANSS + list(extra) + ['--out', out])])


_VL_DET_ANCHORS = _anchors('anchors_det_anss_m8.safetensors', '--classes',
                           'data/demo/lvis_v1/annotations/lvis_v1_train.json')
SUITES['vlltr'] = {
    'cls': [('CE (linear)', CLS_CE),
            ('VL-LTR stage 1, zero-shot', _VL_PRETRAIN),
            ('stage 1 + FC head', _cls('vlltr', 'vlltr-fc_1xb64-15e')),
            ('stage 1 + LGR, random anchors', _cls('vlltr', 'vlltr-lgr-m8-random_1xb64-15e'),
             _anchors('anchors_random_m8.safetensors', '--method', 'random')),
            ('stage 1 + LGR, AnSS anchors (VL-LTR)', _cls('vlltr', 'vlltr-lgr-m8_1xb64-15e'),
             _anchors('anchors_anss_m8.safetensors'))],
    'det': [('CE (linear)', DET_CE),
            ('IIF (linear)', _det('iif', 'iif-raw_1xb8-6e')),
            ('LGR (VL-LTR anchors)', _det('vlltr', 'vlltr-lgr-m8_sample1e-3_1xb8-6e'),
             _VL_DET_ANCHORS),
            ('LGR + IIF', _det('vlltr', 'vlltr-lgr-m8_iif-raw_1xb8-6e'), _VL_DET_ANCHORS)],
}
# One row per method, main variant of each (the method suites hold the ablations); IIF also in
# its post-hoc (test a plain model with the IIF weights, the IIF paper's ImageNet-LT protocol)
# and decoupled (retrain only the classifier of a plain model with IIF) modes; detection also has
# the decoupled mode's control without IIF (classification needs none: IIF ends level with CE).
SUITES['all'] = {
    'cls': [('CE (linear)', CLS_CE),
            ('IIF (linear)', _cls('iif', 'iif-smooth_1xb64-30e')),
            ('cosine s=16', _cls('cosine', 'cosine-s16_1xb64-30e')),
            ('cosine s=16 + IIF', _cls('iif', 'cosine-s16_iif-smooth_1xb64-30e')),
            ('IIF post-hoc on CE (linear)', _cls('iif', 'iif-smooth-posthoc'),
             dict(checkpoint_from=CLS_CE)),
            ('IIF post-hoc on cosine s=16', _cls('iif', 'cosine-s16_iif-smooth-posthoc'),
             dict(checkpoint_from=_cls('cosine', 'cosine-s16_1xb64-30e'))),
            ('IIF decoupled (classifier retrained on CE)',
             _cls('iif', 'iif-smooth-decoupled_1xb64-10e'),
             dict(load_from=CLS_CE)),
            ('CAMC + cosine s=16', _cls('camc', 'camc_cosine-s16_1xb64-30e')),
            ('OLTR (stage 2 from CE)', _cls('oltr', 'oltr-stage2_1xb64-15e'),
             dict(load_from=CLS_CE)),
            ('VL-LTR stage 1, zero-shot', _VL_PRETRAIN),
            ('VL-LTR stage 1 + LGR (AnSS anchors)', _cls('vlltr', 'vlltr-lgr-m8_1xb64-15e'),
             _anchors('anchors_anss_m8.safetensors'))],
    'det': [('CE (linear)', DET_CE),
            ('IIF (linear)', _det('iif', 'iif-raw_1xb8-6e')),
            ('IIF post-hoc on CE (linear)', _det('iif', 'iif-raw-posthoc'),
             dict(checkpoint_from=DET_CE)),
            ('IIF decoupled (fc_cls retrained on CE)',
             _det('iif', 'iif-raw-decoupled_1xb8-2e'),
             dict(load_from=DET_CE)),
            ('control: fc_cls retrained on CE without IIF',
             _det('iif', 'ce-decoupled_1xb8-2e'),
             dict(load_from=DET_CE)),
            ('cosine τ=20', _det('cosine', 'cosine-t20_sample1e-3_1xb8-6e')),
            ('CAMC + cosine τ=20', _det('camc', 'camc_cosine-t20_sample1e-3_1xb8-6e')),
            ('OLTR head (fine-tune from CE)', _det('oltr', 'oltr-stage2_sample1e-3_1xb8-3e'),
             dict(load_from=DET_CE)),
            ('LGR (VL-LTR anchors)', _det('vlltr', 'vlltr-lgr-m8_sample1e-3_1xb8-6e'),
             _VL_DET_ANCHORS)],
}
#: --preset P (other than demo): each run gets this fraction of its demo config's epochs (at
#: least 1; --budget overrides it). bench has ~3x (cls) / 2.5x (det) the demo's training images.
#: Chosen by convergence, measured on 2 quiet cores (docs/benchmarks/bench_suite.md): classification
#: CE / IIF top-1 25.7 / 6.8 at 1/4 (4.6-4.8 min per run), 83.1 / 82.6 at 1 (14.6 min);
#: detection CE segm AP 0.5 at 1/6 (7.9 min), 1.0 at 1/3 (9.7 min), 27.0 at 1 (25.9 min).
#: Fractions that fit 1 hour leave the runs far from convergence, so the default is the whole
#: demo schedule (about 4 hours for --suite all on 2 cores; runs are reused, see --rows).
BUDGETS = {'cls': 1.0, 'det': 1.0}
#: --preset P (other than demo): detections kept per test image. LVIS' 300 is meant for 1203
#: classes; the embedded images hold at most 4 objects of <= 30 classes, and the mask head on
#: 300 RoIs per image was 2/3 of a bench test (measured 2026-11-30: 4.8 min for 300 images, of
#: which 196 s mask prediction, 30 s LVIS evaluation). Fewer low-score detections can only lower
#: AP (they are appended at the end of each precision-recall curve), so this is conservative.
BENCH_MAX_PER_IMG = 100
#: The tail metric each row is compared with the baseline (first row) on, per task.
TAIL = {'cls': ('few', 'accuracy/few|open_set/few'), 'det': ('APr', 'lvis/segm_APr')}
COLUMNS = {
    'cls': [('top-1', 'accuracy/top1|open_set/top1'), ('many', 'accuracy/many|open_set/many'),
            ('medium', 'accuracy/medium|open_set/medium'), ('few', 'accuracy/few|open_set/few')],
    'det': [('AP', 'lvis/segm_AP'), ('APr', 'lvis/segm_APr'), ('APc', 'lvis/segm_APc'),
            ('APf', 'lvis/segm_APf'), ('box AP', 'lvis/bbox_AP')],
}
#: suite-specific columns (default: COLUMNS[task])
SUITE_COLUMNS = {
    ('oltr', 'cls'): [('top-1', 'open_set/top1'), ('many', 'open_set/many'),
                      ('medium', 'open_set/medium'), ('few', 'open_set/few'),
                      ('F (t=0.1)', 'open_set/f_measure'),
                      ('F (t=0.5)', 'open_set/f_measure@0.5'),
                      ('F (t=0.9)', 'open_set/f_measure@0.9'),
                      ('open rejected % (0.5)', 'open_set/open_rejection_rate@0.5'),
                      ('known rejected % (0.5)', 'open_set/known_rejection_rate@0.5')],
}


class Bench:
    """Where runs go and which data they use; runs trained / tested through the tools."""

    def __init__(self, out: str, preset: str = 'demo', force: bool = False,
                 seed: int = None):
        self.out, self.preset, self.force, self.seed = out, preset, force, seed

    def work_dir(self, config: str) -> str:
        return osp.join(self.out, osp.splitext(osp.basename(config))[0])

    def config(self, config: str) -> str:
        """The config to run: ``config`` itself on the demo preset with the default --out, else
        its rewritten copy ``<out>/configs/<name>.py`` (not in the work dir: the runner dumps
        its resolved config there under the same name), with this bench's seed if it has one."""
        if self.preset == 'demo' and self.out == osp.join(ROOT, DEFAULT_OUT) \
                and self.seed is None:
            return config
        path = osp.join(self.out, 'configs', osp.basename(config))
        retarget(osp.join(ROOT, config), path, self.preset, self.out_rel(), self.seed)
        return path

    def out_rel(self) -> str:
        """``out`` relative to the repository root when inside it (as configs refer to it)."""
        return _rel_to_root(self.out)

    def arg(self, item) -> str:
        """A prepare-step argv item with config / checkpoint references resolved."""
        if isinstance(item, tuple):
            kind, config = item
            assert kind == 'last_checkpoint', item
            return self.last_checkpoint(config)
        if item.startswith('configs/') and '/demo/' in item and item.endswith('.py'):
            return self.config(item)
        return _retarget_str(item, self.preset, self.out_rel())

    def last_checkpoint(self, config: str) -> str:
        """Train ``config`` (as a benchmark run) if needed; its last checkpoint."""
        self.run(config, config)
        with open(osp.join(self.work_dir(config), 'last_checkpoint')) as f:
            return f.read().strip()

    def run(self, name: str, config: str, checkpoint_from: str = None, load_from: str = None,
            prepare=()) -> dict:
        work_dir = self.work_dir(config)
        metrics_file = osp.join(work_dir, 'test_metrics.json')
        if not self.force:
            done = self.finished(name, config, quiet=True)
            if done:
                return done
        start = time.time()
        py = sys.executable
        for creates, argv in prepare:  # e.g. anchor sentence selection before an LGR run
            creates = self.arg(creates)
            if self.force or not osp.exists(osp.join(ROOT, creates)):
                subprocess.run([py, *[self.arg(a) for a in argv]], cwd=ROOT, check=True)
        os.makedirs(work_dir, exist_ok=True)
        cfg = self.config(config)
        if checkpoint_from:
            ckpt = self.last_checkpoint(checkpoint_from)
        else:
            extra = []
            if load_from:
                extra = ['--cfg-options', f'load_from={self.last_checkpoint(load_from)}']
            subprocess.run([py, 'tools/train.py', cfg, '--work-dir', work_dir, *extra],
                           cwd=ROOT, check=True)
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                ckpt = f.read().strip()
        subprocess.run([py, 'tools/test.py', cfg, ckpt, '--work-dir', work_dir,
                        '--metrics-out', metrics_file], cwd=ROOT, check=True)
        with open(metrics_file) as f:
            metrics = json.load(f)
        metrics['minutes'] = (time.time() - start) / 60
        metrics['budget'] = self.budget(config)
        if checkpoint_from:
            metrics['checkpoint'] = ckpt
        atomic_write_json(metrics_file, metrics)
        seed = '' if self.seed is None else f', seed {self.seed}'
        print(f'[benchmark] {name} ({config}{seed}) done in {metrics["minutes"]:.1f} min',
              flush=True)
        return metrics

    def budget(self, config: str):
        """The fraction of its demo epochs ``config`` trains for here (None: the demo preset,
        configs as they are)."""
        return None if self.preset == 'demo' else BUDGETS[_task(config)]

    def finished(self, name: str, config: str, quiet: bool = False) -> dict:
        """The metrics of a finished run on the current budget, or {} (shown as '-'). A run
        made on another budget (recorded in its metrics) does not count: it is redone."""
        path = osp.join(self.work_dir(config), 'test_metrics.json')
        metrics = {}
        if osp.isfile(path):
            with open(path) as f:
                metrics = json.load(f)
            if metrics.get('budget') != self.budget(config):
                print(f'[benchmark] {name} ({config}): the finished run has budget '
                      f'{metrics.get("budget")}, this call {self.budget(config)}: not reused',
                      flush=True)
                return {}
        elif not quiet:
            print(f'[benchmark] {name} ({config}): not run', flush=True)
        return metrics


def _rel_to_root(path: str) -> str:
    """``path`` relative to the repository root when inside it, else unchanged."""
    return osp.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def _task(config: str) -> str:
    """'det' for a Mask R-CNN config, else 'cls'."""
    return 'det' if re.search('mask[-_]rcnn', osp.basename(config)) else 'cls'


def scaled_epochs(epochs: int, task: str) -> int:
    """The --preset budget of a config trained for ``epochs`` on the demo preset."""
    return max(1, math.floor(epochs * BUDGETS[task] + 0.5))


def _retarget_str(s: str, preset: str, out_rel: str) -> str:
    """Data paths to ``preset``, benchmark work-dir references to ``out_rel``; checkpoint names
    ``epoch_N.pth`` of referenced runs follow their scaled schedules."""
    if preset != 'demo':
        s = re.sub(r'(^|/)data/demo(/|$)', rf'\1data/{preset}\2', s)
    if DEFAULT_OUT + '/' in s:
        s = s.replace(DEFAULT_OUT + '/', out_rel.rstrip('/') + '/')
        if preset != 'demo':
            task = 'det' if re.search('/mask[-_]rcnn', s) else 'cls'
            s = re.sub(r'epoch_(\d+)\.pth',
                       lambda m: f'epoch_{scaled_epochs(int(m.group(1)), task)}.pth', s)
    return s


def retarget(config: str, out_path: str, preset: str, out_rel: str, seed: int = None) -> None:
    """Write ``config`` rewritten for the embedded ``preset`` and the benchmark dir ``out_rel``
    (and, unless None, the training seed ``randomness.seed``).

    Every string's data root and work-dir reference is rewritten, every ``num_classes`` equal to
    the demo's class count becomes the preset's, and (preset != demo) the schedule is scaled to
    the budget: max_epochs, epoch-based scheduler bounds / T_max / milestones, checkpoint
    interval, one validation at the end at most; detection keeps ``BENCH_MAX_PER_IMG``
    detections per test image.
    """
    from mmengine.config import Config

    from ltr_plugins.datasets.generator import PRESETS
    cfg = Config.fromfile(config)
    task = _task(config)
    groups = 'det_groups' if task == 'det' else 'cls_groups'
    n_demo, n_new = sum(getattr(PRESETS['demo'], groups)), sum(getattr(PRESETS[preset], groups))

    def walk(obj):
        if isinstance(obj, dict):
            return {k: n_new if k == 'num_classes' and v == n_demo else walk(v)
                    for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(walk(v) for v in obj)
        return _retarget_str(obj, preset, out_rel) if isinstance(obj, str) else obj

    d = walk(cfg.to_dict())
    if d.get('embedded_data'):
        d['embedded_data']['preset'] = preset
    if seed is not None:
        d['randomness'] = {**d.get('randomness', {}), 'seed': seed}
    if preset != 'demo':
        _scale_schedule(d, task)
        if task == 'det':
            d['model']['test_cfg']['rcnn']['max_per_img'] = BENCH_MAX_PER_IMG
    text = Config(d).pretty_text
    if osp.isfile(out_path) and open(out_path).read() == text:
        return
    os.makedirs(osp.dirname(out_path), exist_ok=True)
    atomic_write_text(out_path, text)


def _scale_schedule(d: dict, task: str) -> None:
    epochs = d['train_cfg']['max_epochs']
    new = scaled_epochs(epochs, task)
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


def table(task: str, rows, cols) -> str:
    """Markdown table of ``rows`` = ``[(name, config, {seed: metrics})]``: each column's mean ±
    std over the seeds, the paired difference of the tail metric (:data:`TAIL`) to the first
    row over the seeds both have, with its 95% interval, and the verdict."""
    tail, tail_key = TAIL[task]
    base_name, _, base_runs = rows[0]
    base = _per_seed(base_runs, tail_key)
    lines = ['| method | config | ' + ' | '.join(c for c, _ in cols) +
             f' | Δ {tail} vs {base_name} [95% CI] | verdict | seeds | minutes / run |',
             '|---|---|' + '---|' * (len(cols) + 4)]
    for i, (name, config, runs) in enumerate(rows):
        cells = [_cell(task, k, runs) for _, k in cols]
        diff = paired_by_seed(_per_seed(runs, tail_key), base) if i else None
        if i == 0:
            delta, verdict = '—', 'baseline'
        elif diff is None:
            delta, verdict = '-', '-'
        else:
            delta = diff.format(_scale(task, tail_key))
            verdict = {'higher': f'above {base_name}', 'lower': f'below {base_name}'}.get(
                diff.verdict, 'one seed: no interval' if diff.n < 2 else diff.verdict)
        minutes = [m['minutes'] for m in runs.values() if 'minutes' in m]
        minutes = f'{sum(minutes) / len(minutes):.1f}' if minutes else '-'
        lines.append(f'| {name} | `{osp.basename(config)}` | ' + ' | '.join(cells) +
                     f' | {delta} | {verdict} | {len(runs)} | {minutes} |')
    return '\n'.join(lines)


def _value(m: dict, key: str):
    """m[key]; ``key`` may list alternatives 'a|b' (first present wins), None if absent."""
    return next((m[k] for k in key.split('|') if k in m), None)


def _per_seed(runs: dict, key: str) -> dict:
    """``{seed: value of key}`` of the runs that have it."""
    return {seed: v for seed, m in runs.items() if (v := _value(m, key)) is not None}


def _scale(task: str, key: str) -> float:
    """Factor to percent: LVIS AP is in [0, 1], accuracy already in %, F-measures stay
    fractions (as in the OLTR paper)."""
    return 1.0 if 'f_measure' in key or task == 'cls' else 100.0


def _cell(task: str, key: str, runs: dict) -> str:
    """Mean ± std over the seeds of ``key`` in ``runs`` (``{seed: metrics}``), '-' if none."""
    values = list(_per_seed(runs, key).values())
    if not values:
        return '-'
    return summarize(values).format(_scale(task, key), 3 if 'f_measure' in key else 1)


def _selected(args, name: str, config: str) -> bool:
    """Whether this row is trained / tested in this call."""
    if args.reuse_only:
        return False
    return not args.rows or any(r in name or r in config for r in args.rows)


def plot(rows, task: str, path: str) -> bool:
    """Per-class accuracy / AP against training frequency of the finished runs (one PNG)."""
    runs = [(n, wd) for n, wd, m in rows if m and osp.isdir(osp.join(wd, 'test'))]
    if not runs:
        return False
    subprocess.run([sys.executable, 'tools/analysis/plot_per_class.py',
                    *[wd for _, wd in runs], '--labels', *[n for n, _ in runs], '--out', path],
                   cwd=ROOT, check=True)
    return True


def main(argv=None):
    from ltr_plugins.datasets.generator import PRESETS
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--suite', default='iif', choices=sorted(SUITES),
                        help='which set of methods to compare (default: iif); all = one row '
                             'per method')
    parser.add_argument('--tasks', nargs='+', default=['cls', 'det'], choices=['cls', 'det'],
                        help='classification and/or detection (default: both)')
    parser.add_argument('--preset', default='demo', choices=sorted(PRESETS),
                        help='embedded data preset (default: demo = the configs as they are; '
                             'bench: larger data, each run on the fixed budget BUDGETS)')
    parser.add_argument('--out', help=f'work dirs and results go here (default: {DEFAULT_OUT} '
                                      f'for the demo preset, {DEFAULT_OUT}_<preset> otherwise)')
    parser.add_argument('--force', action='store_true', help='rerun finished runs')
    parser.add_argument('--reuse-only', action='store_true',
                        help='train nothing: table the finished runs, "-" for the others')
    parser.add_argument('--budget', nargs='+', metavar='TASK=FRACTION', default=[],
                        help='override BUDGETS for a non-demo preset, e.g. --budget cls=0.5 '
                             'det=1 (use another --out: finished runs are reused)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], metavar='S',
                        help='train and test every row once per seed (randomness.seed; default '
                             '0 1 2); the table gives mean ± std and paired 95%% intervals '
                             'against the first row')
    parser.add_argument('--rows', nargs='+', metavar='TEXT',
                        help='run only the rows whose method name or config contains one of '
                             'these strings (the others are tabled if finished, else "-")')
    args = parser.parse_args(argv)
    for item in args.budget:
        task, _, frac = item.partition('=')
        try:
            value = float(frac)
        except ValueError:
            value = -1.0
        if task not in BUDGETS or value <= 0:
            parser.error(f'--budget {item!r}: expected cls=F or det=F with F > 0')
        BUDGETS[task] = value
    out = args.out or (DEFAULT_OUT if args.preset == 'demo' else f'{DEFAULT_OUT}_{args.preset}')
    out = osp.join(ROOT, out) if not osp.isabs(out) else out
    os.makedirs(out, exist_ok=True)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds {args.seeds}: each seed once')
    benches = [Bench(osp.join(out, f'seed_{seed}'), args.preset, args.force, seed)
               for seed in args.seeds]
    budget = ('' if args.preset == 'demo' else
              f', budget {BUDGETS["cls"]:g} (cls) / {BUDGETS["det"]:.3g} (det) of each demo '
              'schedule')
    cmd = f'python tools/benchmark_lt.py --suite {args.suite} --tasks {" ".join(args.tasks)}'
    if args.preset != 'demo':
        cmd += f' --preset {args.preset}'
    cmd += ' --seeds ' + ' '.join(map(str, args.seeds))
    seeds = ('one seed: no intervals, no verdicts' if len(args.seeds) == 1 else
             f'{len(args.seeds)} seeds: mean ± std; Δ = paired difference to the first row, '
             '95% Student-t interval over the seeds')
    md = [f'Results of `{cmd}` ({time.strftime("%Y-%m-%d")}, {platform.machine()} '
          f'{os.cpu_count()} CPUs, embedded {args.preset} data{budget}; {seeds}; detection: '
          'segm AP unless noted, in %).', '']
    total = 0.0
    for task in args.tasks:
        cols = SUITE_COLUMNS.get((args.suite, task), COLUMNS[task])
        suite_rows = SUITES[args.suite][task]
        runs = {(n, c): {} for n, c, *_ in suite_rows}
        for bench in benches:  # seed by seed: an interrupted suite leaves whole seeds
            for n, c, *opts in suite_rows:
                m = (bench.run(n, c, **(opts[0] if opts else {})) if _selected(args, n, c)
                     else bench.finished(n, c))
                if m:
                    runs[(n, c)][bench.seed] = m
        rows = [(n, c, runs[(n, c)]) for n, c, *_ in suite_rows]
        total += sum(m.get('minutes', 0.0) for _, _, r in rows for m in r.values())
        title = 'classification' if task == 'cls' else 'instance segmentation (LVIS-format)'
        md += [f'**{title}**', '', table(task, rows, cols), '']
        first = benches[0]
        png = f'{args.suite}_{task}_per_class.png'
        if plot([(n, first.work_dir(c), r.get(first.seed)) for n, c, r in rows], task,
                osp.join(out, png)):
            md += [f'Per-class plot (seed {first.seed}): `{osp.join(_rel_to_root(out), png)}`',
                   '']
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator='\n')
        writer.writerow(['method', 'config', 'seed'] + [k for _, k in cols] + ['minutes'])
        for n, c, r in rows:
            for seed, m in sorted(r.items()):
                writer.writerow([n, c, seed] + [_value(m, k) if _value(m, k) is not None else ''
                                                for _, k in cols] + [m.get('minutes', '')])
        atomic_write_text(osp.join(out, f'{args.suite}_{task}.csv'), buf.getvalue())
    md += [f'Total wall time of the runs in the table: {total:.0f} min.']
    text = '\n'.join(md)
    atomic_write_text(osp.join(out, f'{args.suite}.md'), text + '\n')
    print(text)


if __name__ == '__main__':
    main()
