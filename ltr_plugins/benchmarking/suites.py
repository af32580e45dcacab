"""The suites of ``tools/benchmark_lt.py``: which demo configs are trained and tabled together.

A suite maps a task (``'cls'`` / ``'det'``) to a list of :class:`Row`; the first row of each
list is the baseline every other row is compared with (CE). Adding a method is one line in the
suite's list, e.g.::

    Row('Seesaw', det('seesaw', 'seesaw_sample1e-3_1xb8-6e')),

where ``det(method, name)`` / ``cls(method, name)`` name the demo config
``configs/<method>/demo/...`` (paths relative to :data:`ROOT`, the checkout). A row that starts
from another row's run says so with ``load_from=CONFIG`` (train from that run's last
checkpoint) or ``checkpoint_from=CONFIG`` (only test that run's checkpoint with this config);
``prepare`` lists steps that must run before training (see :class:`Row`). A run whose files a
config names itself (a path under :data:`DEFAULT_OUT`, e.g. VL-LTR stage 1's ``image_init``) is
made first too: the runner finds its config by the run's name (``runner.runs_named``).

:data:`TIERS`: ``--suite quick`` is the short tier: CE, the strongest peer method and the
headline row of each method, both tasks, in two tables: end to end (``quick-e2e``) and on the
shared CE backbone (``quick-shared``, head-level methods retrained on the frozen CE model of
each seed, see ``SUITES['shared']``). It is not written out: a row of the ``all`` suite joins
it with ``quick=True`` (and ``head=True`` for a head-level method), so adding a method to
every tier is still one line. ``--suite full`` is every row once in the same two tiers
(``full-e2e`` and ``shared``); ``--suite all`` trains every row end to end.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

#: the checkout: suite configs and the default output folder are relative to it
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: where the runs go by default (``--out``), relative to :data:`ROOT`; demo configs that read
#: another run's files (VL-LTR stage 2, OLTR stage 2) name paths under it
DEFAULT_OUT = 'work_dirs/benchmark_lt'

#: a prepare-step argv item: a string, or ``('last_checkpoint', CONFIG)`` = that run's last
#: checkpoint (trained first if needed)
ArgItem = Union[str, Tuple[str, str]]


@dataclass(frozen=True)
class Row:
    """One method of a suite.

    Args:
        name: the method's name in the table.
        config: its demo config, relative to :data:`ROOT`.
        checkpoint_from: do not train; test the last checkpoint of this config's run.
        load_from: train starting from the last checkpoint of this config's run.
        prepare: ``(output file, tool argv)`` steps run before training when the output is
            missing (e.g. anchor selection before an LGR run); an argv item
            ``('last_checkpoint', CONFIG)`` is that run's last checkpoint, a demo config path
            stands for the run's config.
        quick: (rows of the ``all`` suite) also in the quick tier (``--suite quick``,
            :data:`TIERS`).
        head: (rows of the ``all`` suite) a head-level method: it changes only the classifier
            (classification head / RoI box head), its loss or its sampling, so the shared
            tier retrains just that on the frozen CE model of the seed (:func:`retrained`).
        retrain_from: train only the classifier of this config's run (everything else loaded
            from its last checkpoint and frozen) for ``runner.RETRAIN_EPOCHS`` epochs; the
            run's work dir is ``<config name>_head-retrain``.
    """
    name: str
    config: str
    checkpoint_from: Optional[str] = None
    load_from: Optional[str] = None
    prepare: Tuple[Tuple[str, Tuple[ArgItem, ...]], ...] = ()
    quick: bool = False
    head: bool = False
    retrain_from: Optional[str] = None

    @property
    def run_name(self) -> str:
        """The name of this row's work dir (and overlay config): the config's file name
        without ``.py``, with ``_head-retrain`` for a :attr:`retrain_from` row, and
        ``_on-<its file name>`` where that is not the shared tier's CE model of the task
        (:data:`SHARED_BASES`): runs retrained on different models are different runs."""
        stem = osp.splitext(osp.basename(self.config))[0]
        if not self.retrain_from:
            return stem
        base = self.retrain_from
        on = '' if SHARED_BASES[task_of(self.config)] == base else \
            '_on-' + osp.splitext(osp.basename(base))[0]
        return stem + '_head-retrain' + on


def cls(method: str, name: str) -> str:
    """An embedded-data classification config: configs/<method>/demo/convnet_<name>_demo-cls.py"""
    return f'configs/{method}/demo/convnet_{name}_demo-cls.py'


def det(method: str, name: str) -> str:
    """An embedded-data detection config:
    configs/<method>/demo/mask-rcnn_r18_fpn_<name>_demo-lvis.py"""
    return f'configs/{method}/demo/mask-rcnn_r18_fpn_{name}_demo-lvis.py'


def task_of(config: str) -> str:
    """'det' for a Mask R-CNN config (or run folder), else 'cls'."""
    name = osp.basename(osp.normpath(config))
    return 'det' if 'mask-rcnn' in name or 'mask_rcnn' in name else 'cls'


CLS_CE, DET_CE = cls('baselines', '1xb64-30e'), det('baselines', 'sample1e-3_1xb8-6e')
#: the CE detector trained 9 epochs instead of 6 (the RFS peer's length control)
DET_CE_9E = det('peers', 'sample1e-3_1xb8-9e')
#: the CE classifier trained at batch 16 instead of 64: the same epochs, 4x the updates
CLS_CE_B16 = cls('baselines', '1xb16-30e')
#: the CE detector on a half-width ResNet-18 trunk (32 base channels instead of 64)
DET_CE_W32 = 'configs/baselines/demo/mask-rcnn_r18-w32_fpn_sample1e-3_1xb8-6e_demo-lvis.py'
#: the CE model of each task that the shared tier (``SUITES['shared']``) retrains on
SHARED_BASES = {'cls': CLS_CE, 'det': DET_CE}
#: IIF's enhanced detection recipe (the reference's), by RFS threshold
_ENHANCED = 'iif-base10-obj_cosine-t8_cosine-mask-t20_sample{}_1xb8-6e'

# VL-LTR: stage 2 reads the stage-1 checkpoint and anchor files at these (config-given) paths
# under DEFAULT_OUT (other --out / --preset values are rebased by the runner).
_VL_PRETRAIN = cls('vlltr', 'vlltr-pretrain_1xb64-20e')
_VL_STAGE1 = DEFAULT_OUT + '/convnet_vlltr-pretrain_1xb64-20e_demo-cls/'
_VL_ANSS = ('tools/vlltr/select_anchor_sentences.py', _VL_PRETRAIN,
            ('last_checkpoint', _VL_PRETRAIN), '--num-anchors', '8')


def anchors(name: str, *extra: str) -> Tuple[Tuple[str, Tuple[ArgItem, ...]], ...]:
    """The ``prepare`` step writing the VL-LTR anchor file ``name`` next to the stage-1 run
    (``tools/vlltr/select_anchor_sentences.py`` with ``extra`` arguments)."""
    out = _VL_STAGE1 + name
    return ((out, _VL_ANSS + tuple(extra) + ('--out', out)), )


_VL_DET_ANCHORS = anchors('anchors_det_anss_m8.safetensors', '--classes',
                          'data/demo/lvis_v1/annotations/lvis_v1_train.json')
_VL_CLS_ANCHORS = anchors('anchors_anss_m8.safetensors')

SUITES: Dict[str, Dict[str, List[Row]]] = {
    'iif': {
        'cls': [Row('CE (linear)', CLS_CE),
                Row('IIF (linear)', cls('iif', 'iif-smooth_1xb64-30e')),
                Row('cosine', cls('cosine', 'cosine-s16_1xb64-30e')),
                Row('cosine + IIF', cls('iif', 'cosine-s16_iif-smooth_1xb64-30e'))],
        'det': [Row('CE (linear)', DET_CE),
                Row('IIF (linear)', det('iif', 'iif-raw_1xb8-6e')),
                Row('cosine', det('cosine', 'cosine-t20_sample1e-3_1xb8-6e')),
                Row('cosine + IIF', det('iif', 'iif-raw_cosine-t8_1xb8-6e'))],
    },
    'camc': {
        'cls': [Row('CE (linear)', CLS_CE),
                Row('cosine s=4', cls('cosine', 'cosine-s4_1xb64-30e')),
                Row('cosine s=8', cls('cosine', 'cosine-s8_1xb64-30e')),
                Row('cosine s=16', cls('cosine', 'cosine-s16_1xb64-30e')),
                Row('cosine s=32', cls('cosine', 'cosine-s32_1xb64-30e')),
                Row('CAMC + cosine s=16', cls('camc', 'camc_cosine-s16_1xb64-30e')),
                Row('cosine s=16 + IIF', cls('iif', 'cosine-s16_iif-smooth_1xb64-30e')),
                Row('CAMC + cosine s=16 + IIF',
                    cls('camc', 'camc_cosine-s16_iif-smooth_1xb64-30e'))],
        'det': [Row('CE (linear)', DET_CE),
                Row('cosine τ=20', det('cosine', 'cosine-t20_sample1e-3_1xb8-6e')),
                Row('CAMC + cosine τ=20', det('camc', 'camc_cosine-t20_sample1e-3_1xb8-6e')),
                Row('CAMC (train_target=pred) + cosine τ=20',
                    det('camc', 'camc-pred_cosine-t20_sample1e-3_1xb8-6e')),
                Row('IIF + cosine τ=8', det('iif', 'iif-raw_cosine-t8_1xb8-6e')),
                Row('CAMC + IIF + cosine τ=8', det('camc', 'camc_iif-raw_cosine-t8_1xb8-6e'))],
    },
    # OLTR: stage 1 is the plain CE model (its checkpoint is reused, tested with the open-set
    # protocol); stage 2 trains from it (load_from).
    'oltr': {
        'cls': [Row('plain CE (stage 1)', cls('oltr', 'oltr-stage1_1xb64-30e'),
                    checkpoint_from=CLS_CE),
                Row('CE + class-aware fine-tune (control)',
                    cls('oltr', 'classaware-stage2_1xb64-15e'), load_from=CLS_CE),
                Row('OLTR (stage 2)', cls('oltr', 'oltr-stage2_1xb64-15e'), load_from=CLS_CE)],
        'det': [Row('CE (linear)', DET_CE),
                Row('CE, 3-epoch fine-tune (control)',
                    det('oltr', 'ce-finetune_sample1e-3_1xb8-3e'), load_from=DET_CE),
                Row('OLTR head (stage 2)', det('oltr', 'oltr-stage2_sample1e-3_1xb8-3e'),
                    load_from=DET_CE)],
    },
    'vlltr': {
        'cls': [Row('CE (linear)', CLS_CE),
                Row('VL-LTR stage 1, zero-shot', _VL_PRETRAIN),
                Row('stage 1 + FC head', cls('vlltr', 'vlltr-fc_1xb64-15e')),
                Row('stage 1 + LGR, random anchors', cls('vlltr', 'vlltr-lgr-m8-random_1xb64-15e'),
                    prepare=anchors('anchors_random_m8.safetensors', '--method', 'random')),
                Row('stage 1 + LGR, AnSS anchors (VL-LTR)', cls('vlltr', 'vlltr-lgr-m8_1xb64-15e'),
                    prepare=_VL_CLS_ANCHORS)],
        'det': [Row('CE (linear)', DET_CE),
                Row('IIF (linear)', det('iif', 'iif-raw_1xb8-6e')),
                Row('LGR (VL-LTR anchors)', det('vlltr', 'vlltr-lgr-m8_sample1e-3_1xb8-6e'),
                    prepare=_VL_DET_ANCHORS),
                Row('LGR + IIF', det('vlltr', 'vlltr-lgr-m8_iif-raw_1xb8-6e'),
                    prepare=_VL_DET_ANCHORS)],
    },
}
# Peer methods (configs/peers/demo/, sources in configs/peers/README.md): the methods users pick
# instead (RFS, Seesaw, EQLv2, class-aware sampling; re-weighted CE, class-balanced sampling,
# post-hoc logit adjustment, tau-norm), one Row each at the end of the task's list below;
# quick=True on the peer the literature reports strongest per task (logit adjustment, Seesaw).
# Note: on the demo data RFS at mmdet's t=1e-3 repeats no image, so 'CE (linear)' of detection
# is also the no-RFS model; the RFS peer uses t=0.15 (see configs/peers/README.md).
# One row per method, main variant of each (the method suites hold the ablations); IIF also in
# its post-hoc (test a plain model with the IIF weights, the IIF paper's ImageNet-LT protocol)
# and decoupled (retrain only the classifier of a plain model with IIF) modes; detection also has
# the decoupled mode's control without IIF (classification needs none: IIF ends level with CE).
SUITES['all'] = {
    'cls': [Row('CE (linear)', CLS_CE, quick=True),
            Row('IIF (linear)', cls('iif', 'iif-smooth_1xb64-30e'), quick=True, head=True),
            Row('cosine s=16', cls('cosine', 'cosine-s16_1xb64-30e'), quick=True, head=True),
            Row('cosine s=16 + IIF', cls('iif', 'cosine-s16_iif-smooth_1xb64-30e'), head=True),
            Row('IIF post-hoc on CE (linear)', cls('iif', 'iif-smooth-posthoc'),
                checkpoint_from=CLS_CE),
            Row('IIF post-hoc on cosine s=16', cls('iif', 'cosine-s16_iif-smooth-posthoc'),
                checkpoint_from=cls('cosine', 'cosine-s16_1xb64-30e')),
            Row('IIF decoupled (classifier retrained on CE)',
                cls('iif', 'iif-smooth-decoupled_1xb64-10e'), load_from=CLS_CE),
            Row('CAMC + cosine s=16', cls('camc', 'camc_cosine-s16_1xb64-30e'), quick=True,
                head=True),
            Row('OLTR (stage 2 from CE)', cls('oltr', 'oltr-stage2_1xb64-15e'), load_from=CLS_CE,
                quick=True, head=True),
            Row('VL-LTR stage 1, zero-shot', _VL_PRETRAIN),
            Row('VL-LTR stage 1 + LGR (AnSS anchors)', cls('vlltr', 'vlltr-lgr-m8_1xb64-15e'),
                prepare=_VL_CLS_ANCHORS, quick=True),
            Row('peer: re-weighted CE', cls('peers', 'reweighted-ce_1xb64-30e'), head=True),
            Row('peer: class-balanced sampling', cls('peers', 'class-balanced-sampler_1xb64-30e'),
                head=True),
            Row('peer: logit adjustment post-hoc on CE', cls('peers', 'logit-adj-t1-posthoc'),
                checkpoint_from=CLS_CE, quick=True),
            Row('peer: τ-norm post-hoc on CE', cls('peers', 'tau-norm-t1-posthoc'),
                checkpoint_from=CLS_CE)],
    'det': [Row('CE (linear)', DET_CE, quick=True),
            Row('IIF (linear)', det('iif', 'iif-raw_1xb8-6e'), quick=True, head=True),
            Row('IIF post-hoc on CE (linear)', det('iif', 'iif-raw-posthoc'),
                checkpoint_from=DET_CE),
            Row('IIF decoupled (fc_cls retrained on CE)', det('iif', 'iif-raw-decoupled_1xb8-2e'),
                load_from=DET_CE),
            Row('control: fc_cls retrained on CE without IIF', det('iif', 'ce-decoupled_1xb8-2e'),
                load_from=DET_CE),
            Row('cosine τ=20', det('cosine', 'cosine-t20_sample1e-3_1xb8-6e'), quick=True,
                head=True),
            Row('CAMC + cosine τ=20', det('camc', 'camc_cosine-t20_sample1e-3_1xb8-6e'),
                quick=True, head=True),
            Row('OLTR head (fine-tune from CE)', det('oltr', 'oltr-stage2_sample1e-3_1xb8-3e'),
                load_from=DET_CE, quick=True, head=True),
            Row('LGR (VL-LTR anchors)', det('vlltr', 'vlltr-lgr-m8_sample1e-3_1xb8-6e'),
                prepare=_VL_DET_ANCHORS, quick=True, head=True),
            Row('IIF enhanced recipe (base10_obj, cosine τ=8, cosine mask τ=20, RFS)',
                det('iif', _ENHANCED.format('1e-3'))),
            Row('peer: RFS (t=0.15)', det('peers', 'sample0.15_1xb8-6e')),
            # RFS's repeats make its 6 epochs 636 iterations; CE's 6 are 450: this CE run is
            # as long as RFS (configs/peers/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-9e_demo-lvis.py)
            Row('control: CE, 9 epochs (as many iterations as RFS)', DET_CE_9E),
            # the enhanced recipe with RFS at the demo threshold: as long as the RFS peer
            Row('IIF enhanced recipe with RFS t=0.15 (base10_obj, cosine τ=8, cosine mask τ=20)',
                det('iif', _ENHANCED.format('0.15'))),
            Row('peer: class-aware sampling', det('peers', 'class-aware-sampler_1xb8-6e'),
                head=True),
            Row('peer: Seesaw loss', det('peers', 'seesaw-loss_sample1e-3_1xb8-6e'), quick=True,
                head=True),
            Row('peer: EQLv2', det('peers', 'eqlv2_1xb8-6e'), head=True)],
}

# IIF's detection recipes, each trained end to end next to CE and the data-level peer the
# enhanced one builds on: the plain `raw` recipe (configs/lvis/mask_rcnn_iif.py), the
# reference's enhanced one (base10_obj, cosine predictors, RFS at mmdet's t=1e-3, which repeats
# no demo image) and the enhanced one with RFS at the demo threshold, against RFS alone. In
# 'all' / 'full' the plain recipe is head-level (shared tier); here it is trained end to end.
_ALL_DET = {row.config: row for row in SUITES['all']['det']}
SUITES['iif-recipes'] = {
    'cls': [],
    'det': [_ALL_DET[DET_CE],
            Row('IIF plain recipe (raw, linear), end to end', det('iif', 'iif-raw_1xb8-6e')),
            *(_ALL_DET[config] for config in (det('iif', _ENHANCED.format('1e-3')),
                                              det('peers', 'sample0.15_1xb8-6e'),
                                              det('iif', _ENHANCED.format('0.15'))))],
}


def retrained(row: Row, base: str) -> Row:
    """``row`` in the shared tier: its classifier retrained on the frozen model of ``base``'s
    run (same name and config; its own ``load_from`` is replaced)."""
    return Row(row.name, row.config, prepare=row.prepare, quick=row.quick, head=True,
               retrain_from=base)


def shared_tier(bases: Dict[str, str],
                controls: Optional[Dict[str, str]] = None) -> Dict[str, List[Row]]:
    """A shared-backbone tier on the CE model ``bases[task]`` of each task (a task without a
    base has no rows): the control that retrains that model's classifier, then every
    head-level row of ``all`` retrained on it (:func:`retrained`). The control retrains as the
    config ``controls[task]`` does (default: the base itself); name the demo CE config there
    when the base trains with another recipe (batch, learning rate) than the rows retrain
    with, so that the control retrains exactly as they do."""
    controls = controls or {}
    return {task: [Row('control: CE classifier retrained', controls.get(task, bases[task]),
                       quick=True, head=True, retrain_from=bases[task])] +
            [retrained(row, bases[task]) for row in rows if row.head] if task in bases else []
            for task, rows in SUITES['all'].items()}


# The shared-backbone tier: one CE model per seed is trained end to end (the CE row of 'all');
# every head-level method then retrains only its classifier on that frozen model, next to a
# control that retrains the CE classifier the same way, so the paired difference to the
# control isolates the method (and the backbone's seed-to-seed chaos cancels).
SUITES['shared'] = shared_tier(SHARED_BASES)
# The detection shared tier on the 9-epoch CE detector (the RFS length control of 'all'): the
# 6-epoch demo detector is far from converged (AP 17 against 26 at 9 epochs), so this asks
# whether the head-level methods separate differently on a better-trained trunk.
SUITES['shared-9e'] = shared_tier({'det': DET_CE_9E})
# The classification shared tier on the CE classifier trained at batch 16 (same epochs, 4x the
# updates: it leaves the chance-level plateau of the first epochs sooner and ends better
# trained), next to the two CE models end to end (``--suite b16``): are the demo shared tier's
# verdicts the methods' or the under-trained backbone's? (On it IIF, cosine and CAMC no longer
# separate from the control: docs/benchmarks/README.md, "A better-trained classification
# backbone".) Every row, the control included, retrains with the demo recipe (batch 64).
SUITES['shared-b16'] = shared_tier({'cls': CLS_CE_B16}, controls={'cls': CLS_CE})
SUITES['b16-e2e'] = {'cls': [SUITES['all']['cls'][0], Row('CE (linear), batch 16', CLS_CE_B16)],
                     'det': []}
# The detection shared tier on the CE detector with a half-width trunk, next to the two CE
# detectors end to end (``--suite w32``): does the cheaper base model (the quick tier's time is
# mostly its base models' training) keep the demo detector's levels and the shared tier's
# verdicts? (It does not: 3 points of segm AP lower, 4 of 8 verdicts changed, all near zero;
# docs/benchmarks/README.md, "A half-width detection trunk".) Every row retrains on the
# half-width model's trunk (``runner.head_only``).
SUITES['shared-w32'] = shared_tier({'det': DET_CE_W32})
SUITES['w32-e2e'] = {'cls': [], 'det': [SUITES['all']['det'][0],
                                        Row('CE (linear), half-width trunk', DET_CE_W32)]}
#: The quick tier (``--suite quick``) is two tables per task, :data:`TIERS`: ``quick-e2e`` (CE
#: end to end, the quick rows that are not head-level, e.g. VL-LTR, and the post-hoc peer on
#: CE) and ``quick-shared`` (the control and the quick head-level methods on the shared CE
#: model). Rows join it with ``quick=True`` in ``all``, so adding a method is still one line.
SUITES['quick-e2e'] = {task: [row for row in rows if row.quick and not row.head]
                       for task, rows in SUITES['all'].items()}
SUITES['quick-shared'] = {task: [row for row in rows if row.quick]
                          for task, rows in SUITES['shared'].items()}
# The quick tier with its detection half on the half-width CE detector (``--suite quick-w32``):
# the classification rows as they are, detection's CE and quick head-level rows on the
# half-width trunk; what the quick tier costs on the one lever that keeps the demo schedules
# (33.1 min against 36.5: docs/benchmarks/quick_w32_demo.md).
SUITES['quick-e2e-w32'] = {'cls': SUITES['quick-e2e']['cls'],
                           'det': SUITES['w32-e2e']['det'][1:]}
SUITES['quick-shared-w32'] = {'cls': SUITES['quick-shared']['cls'],
                              'det': [row for row in SUITES['shared-w32']['det'] if row.quick]}


def with_sources(rows: List[Row], every: Sequence[Row]) -> List[Row]:
    """``rows`` and, before the first row that starts from it (``checkpoint_from`` /
    ``load_from``), each row of ``every`` whose model that is: the table then shows the model a
    post-hoc or fine-tuning row changes, which it trains anyway."""
    result: List[Row] = []
    for row in rows:
        source = row.checkpoint_from or row.load_from
        base = next((r for r in every if r.config == source and not r.retrain_from), None)
        if base is not None and base not in rows and base not in result:
            result.append(base)
        result.append(row)
    return result


#: The full tier (``--suite full``) has every row of ``all`` once, each in the cheaper tier that
#: answers its question: ``full-e2e`` (CE and every row that is not head-level: post-hoc,
#: decoupled, VL-LTR, the data-level and recipe rows, plus the end-to-end model a post-hoc row
#: is applied to, :func:`with_sources`) and ``shared`` (the control and every head-level row on
#: the shared CE model). ``all`` stays the exhaustive end-to-end table.
SUITES['full-e2e'] = {task: with_sources([row for row in rows if not row.head], rows)
                      for task, rows in SUITES['all'].items()}
#: suites that run as several tables (tiers), in this order
TIERS: Dict[str, Tuple[str, ...]] = {'quick': ('quick-e2e', 'quick-shared'),
                                     'full': ('full-e2e', 'shared'),
                                     'b16': ('b16-e2e', 'shared-b16'),
                                     'w32': ('w32-e2e', 'shared-w32'),
                                     'quick-w32': ('quick-e2e-w32', 'quick-shared-w32')}
#: what each table's baseline and runs are, printed above it
TIER_TITLES = {
    'shared': 'shared-backbone tier: every row retrains only the classifier (classification '
              'head / RoI box head) of the frozen end-to-end CE model of the same seed',
    'e2e': 'end-to-end tier: every row trains (or, post-hoc, tests) its whole model',
}
#: suites whose tables say more than their tier's title
SUITE_TITLES = {
    'shared-9e': 'shared-backbone tier on the 9-epoch CE detector: every row retrains only the '
                 'RoI box head of the frozen CE model trained 9 epochs with the same seed',
    'shared-b16': 'shared-backbone tier on the batch-16 CE classifier: every row retrains only '
                  'the classification head (at batch 64, as in the shared tier) of the frozen CE '
                  'model trained 30 epochs at batch 16 with the same seed',
    'quick-e2e-w32': TIER_TITLES['e2e'] + (
        '; the detection CE model on a half-width ResNet-18 trunk (32 base channels)'),
    'quick-shared-w32': TIER_TITLES['shared'] + (
        '; in detection, the CE model on a half-width ResNet-18 trunk (32 base channels)'),
    'shared-w32': 'shared-backbone tier on the half-width CE detector: every row retrains only '
                  'the RoI box head of the frozen CE model with a half-width ResNet-18 trunk '
                  '(32 base channels) trained with the same seed',
}


def tier_of(suite: str) -> str:
    """'shared' for a shared-backbone suite (``shared``, ``quick-shared``, ``shared-9e``,
    ``shared-b16``, ``shared-w32``), else 'e2e'."""
    return 'shared' if 'shared' in suite.split('-') else 'e2e'


def table_title(suite: str) -> str:
    """What the tables of ``suite`` hold (:data:`SUITE_TITLES`, else its tier's title)."""
    return SUITE_TITLES.get(suite, TIER_TITLES[tier_of(suite)])


#: The tail metric each row is compared with the baseline (first row) on, per task:
#: (column name, metric key; 'a|b' = the first present)
TAIL = {'cls': ('few', 'accuracy/few|open_set/few'), 'det': ('APr', 'lvis/segm_APr')}
#: table columns per task: (column name, metric key)
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


def columns(suite: str, task: str) -> List[Tuple[str, str]]:
    """The table columns of ``suite`` for ``task``."""
    return SUITE_COLUMNS.get((suite, task), COLUMNS[task])


def rows_of(suite: str, task: str) -> Sequence[Row]:
    """The rows of ``suite`` for ``task``; a clear error for an unknown suite."""
    if suite not in SUITES:
        raise KeyError(f'unknown benchmark suite {suite!r}; valid suites: {sorted(SUITES)}')
    return SUITES[suite][task]


def tables_of(suite: str) -> Tuple[str, ...]:
    """The suites whose tables ``--suite suite`` writes: its tiers, or itself."""
    return TIERS.get(suite, (suite, ))
