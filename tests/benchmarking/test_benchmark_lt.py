"""tools/benchmark_lt.py (ltr_plugins.tools.benchmark_lt, ltr_plugins.benchmarking.runner /
report / suites): run configs as _base_ overlays for another embedded preset on a fixed
budget, the seeds table."""

from pathlib import Path

import pytest
from ltr_testing import REPO, build_model

from ltr_plugins.benchmarking import report
from ltr_plugins.benchmarking import runner as blt
from ltr_plugins.benchmarking import suites
from ltr_plugins.tools import benchmark_lt as tool


@pytest.fixture(autouse=True)
def fractions(monkeypatch):
    """The scaling tests use fractions below 1 (the default budget is the demo schedule)."""
    monkeypatch.setattr(blt, 'BUDGETS', {'cls': 0.25, 'det': 1 / 3})


@pytest.fixture
def own_schedules(monkeypatch):
    """The default budget: runs on the demo preset use the configs' own schedules."""
    monkeypatch.setattr(blt, 'BUDGETS', {'cls': 1.0, 'det': 1.0})


def _load(path):
    from mmengine.config import Config
    return Config.fromfile(str(path))


def test_retarget_classification_config(tmp_path):
    out = tmp_path / 'bench_convnet_camc_iif_demo.py'
    config = 'configs/camc/demo/convnet_camc_cosine-s16_iif-smooth_1xb64-30e_demo-cls.py'
    blt.retarget(str(REPO / config), str(out), 'bench', 'work_dirs/benchmark_lt_bench')
    cfg = _load(out)
    assert cfg.model.head.num_classes == 50 and cfg.data_preprocessor.num_classes == 50
    assert cfg.embedded_data == dict(preset='bench', root='data/bench', seed=0)
    assert cfg.train_dataloader.dataset.data_root == 'data/bench/classification/'
    assert cfg.model.head.iif.stats == 'data/bench/classification/ImageNet_LT_train.txt'
    assert 'data/demo' not in out.read_text()
    # 30 demo epochs -> round(30 / 4) = 8; cosine schedule and checkpoint follow
    assert cfg.train_cfg.max_epochs == 8 and cfg.train_cfg.val_interval == 8
    sched = cfg.param_scheduler
    sched = sched[0] if isinstance(sched, list) else sched
    assert sched.T_max == 8 and sched.end == 8
    assert cfg.default_hooks.checkpoint.interval == 8


def test_retarget_detection_config_and_references(tmp_path):
    out = tmp_path / 'bench_mask_rcnn_r18_fpn_oltr_demo.py'
    config = 'configs/oltr/demo/mask-rcnn_r18_fpn_oltr-stage2_sample1e-3_1xb8-3e_demo-lvis.py'
    blt.retarget(str(REPO / config), str(out), 'bench', 'work_dirs/elsewhere')
    cfg = _load(out)
    assert cfg.model.roi_head.bbox_head.num_classes == 30
    assert cfg.model.roi_head.mask_head.num_classes == 30
    assert cfg.val_evaluator.ann_file == 'data/bench/lvis_v1/annotations/lvis_v1_val.json'
    assert cfg.model.test_cfg.rcnn.max_per_img == 100  # the demo config's own
    assert cfg.model.test_cfg.rcnn.score_thr == 1e-4
    # 3 demo epochs -> 1; the referenced stage-1 run (6 epochs) ends at epoch 2 on the budget
    assert cfg.train_cfg.max_epochs == 1 and cfg.train_cfg.val_begin == 2
    assert cfg.load_from == \
        'work_dirs/elsewhere/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis/epoch_2.pth'
    step, = cfg.param_scheduler
    assert step.end == 1 and step.milestones == [1]  # = the end: no decay in one epoch


def test_scale_schedule_keeps_decay_inside_the_run():
    d = dict(train_cfg=dict(max_epochs=6, val_begin=7),
             param_scheduler=[dict(type='LinearLR', by_epoch=False, begin=0, end=50),
                              dict(type='MultiStepLR', begin=0, end=6, milestones=[3, 5])],
             default_hooks=dict(checkpoint=dict(interval=6)))
    blt.scale_schedule(d, 'det')  # 6 * 1/3 = 2 epochs
    assert d['train_cfg'] == dict(max_epochs=2, val_begin=3)
    assert d['param_scheduler'][0]['end'] == 50
    assert d['param_scheduler'][1]['end'] == 2
    assert d['param_scheduler'][1]['milestones'] == [1, 1]
    assert d['default_hooks']['checkpoint']['interval'] == 2
    assert [blt.scaled_epochs(e, 'cls') for e in (1, 15, 20, 30)] == [1, 4, 5, 8]
    assert [blt.scaled_epochs(e, 'det') for e in (3, 6, 12)] == [1, 2, 4]


def test_retarget_strings():
    r = blt.rebase_path
    assert r('data/demo/lvis_v1/', 'bench', 'out') == 'data/bench/lvis_v1/'
    assert r('data/demo', 'bench', 'out') == 'data/bench'
    assert r('mydata/demo/x', 'bench', 'out') == 'mydata/demo/x'
    stage1 = 'convnet_vlltr-pretrain_1xb64-20e_demo-cls'
    assert r(f'work_dirs/benchmark_lt/{stage1}/epoch_20.pth', 'bench',
             'o/b') == f'o/b/{stage1}/epoch_5.pth'
    # demo preset on a budget (cls 1/4 here): the checkpoint follows the scaled schedule too
    assert r('work_dirs/benchmark_lt/x/epoch_20.pth', 'demo', 'o') == 'o/x/epoch_5.pth'


def test_demo_preset_at_budget_one_moves_only_the_directory(own_schedules):
    assert blt.rebase_path('work_dirs/benchmark_lt/x/epoch_20.pth', 'demo',
                           'o') == 'o/x/epoch_20.pth'
    assert blt.budget_of('demo', 'cls') is None and blt.budget_of('bench', 'cls') == 1.0


def test_demo_preset_on_a_budget_scales_both_tiers(monkeypatch):
    """``--budget`` on the demo preset (the quick tier's schedule study): end-to-end runs and
    shared-tier retraining both train the fraction of their epochs; the budget is recorded."""
    monkeypatch.setattr(blt, 'BUDGETS', {'cls': 0.5, 'det': 0.5})
    from mmengine.config import Config
    det = str(REPO / suites.DET_CE)
    d = Config.fromfile(det).to_dict()
    e2e = blt.run_config(d, det, 'demo', 'o', seed=1)
    assert e2e['train_cfg']['max_epochs'] == 3 and e2e['randomness']['seed'] == 1
    step = [s for s in e2e['param_scheduler'] if s['type'] == 'MultiStepLR'][0]
    assert step['end'] == 3 and step['milestones'] == [2]  # demo: decay at 5 of 6
    retrain = blt.run_config(d, det, 'demo', 'o', seed=1, retrain=True)
    assert retrain['train_cfg']['max_epochs'] == 1  # RETRAIN_EPOCHS['det'] = 2, halved
    assert retrain['model']['type'] == blt.DET_RETRAIN_TYPE
    cls = str(REPO / suites.CLS_CE)
    d = Config.fromfile(cls).to_dict()
    assert blt.run_config(d, cls, 'demo', 'o', retrain=True)['train_cfg']['max_epochs'] == 5
    bench = blt.Bench(str(REPO / blt.DEFAULT_OUT), 'demo')
    assert bench.budget(suites.CLS_CE) == 0.5
    assert bench.config(suites.CLS_CE) != suites.CLS_CE  # an overlay, not the config itself


def test_columns_take_the_first_present_metric():
    m = {0: {'open_set/top1': 50.0, 'lvis/segm_AP': 0.25}}  # {seed: metrics}
    assert report.cell('cls', 'accuracy/top1|open_set/top1', m) == '50.0'
    assert report.cell('det', 'lvis/segm_AP', m) == '25.0'
    assert report.cell('cls', 'accuracy/few', m) == '-'


def test_bench_writes_retargeted_configs_outside_the_work_dirs(tmp_path):
    """The runner dumps its resolved config into the work dir under the config's name: the
    retargeted copy must live elsewhere, and the demo preset with the default --out runs the
    configs as they are."""
    bench = blt.Bench(str(tmp_path / 'out'), 'bench')
    config = 'configs/baselines/demo/convnet_1xb64-30e_demo-cls.py'
    path = bench.config(config)
    assert path == str(tmp_path / 'out' / 'configs' / 'convnet_1xb64-30e_demo-cls.py')
    assert not path.startswith(bench.work_dir(config))
    assert "preset='bench'" in open(path).read()
    blt.BUDGETS.update(cls=1.0, det=1.0)  # the default: the demo configs' own schedules
    demo = blt.Bench(str(REPO / blt.DEFAULT_OUT), 'demo')
    assert demo.config(config) == config


def test_budget_option_overrides_the_fraction(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(blt, 'BUDGETS', dict(blt.BUDGETS))
    tool.main(['--suite', 'iif', '--preset', 'bench', '--tasks', 'cls', '--reuse-only',
              '--out', str(tmp_path), '--budget', 'cls=0.5', 'det=1'])
    assert [blt.scaled_epochs(30, 'cls'), blt.scaled_epochs(6, 'det')] == [15, 6]
    assert 'budget 0.5 (cls) / 1 (det)' in (tmp_path / 'iif.md').read_text()
    for bad in ('cls=0', 'seg=0.5', 'cls=half'):
        with pytest.raises(SystemExit):
            tool.main(['--reuse-only', '--out', str(tmp_path), '--budget', bad])
    assert 'expected cls=F or det=F' in capsys.readouterr().err


def test_a_run_is_reused_only_on_the_budget_it_was_made_with(tmp_path, capsys):
    import json
    bench = blt.Bench(str(tmp_path), 'bench')
    cfg = 'configs/baselines/demo/convnet_1xb64-30e_demo-cls.py'
    wd = tmp_path / 'convnet_1xb64-30e_demo-cls'
    wd.mkdir()
    (wd / 'test_metrics.json').write_text(json.dumps({'accuracy/top1': 50.0, 'budget': 0.25}))
    assert bench.finished(suites.Row('CE', cfg)) == {'accuracy/top1': 50.0, 'budget': 0.25}
    assert bench.run(suites.Row('CE', cfg))['accuracy/top1'] == 50.0  # reused: nothing trained
    blt.BUDGETS['cls'] = 1.0
    assert bench.finished(suites.Row('CE', cfg)) == {}
    assert 'has budget 0.25, this call 1.0: not reused' in capsys.readouterr().out
    # demo preset: configs as they are, no budget recorded (runs made before the stamp too)
    (wd / 'test_metrics.json').write_text(json.dumps({'accuracy/top1': 40.0}))
    assert blt.Bench(str(tmp_path), 'demo').finished(suites.Row('CE', cfg)) == {
        'accuracy/top1': 40.0}
    assert bench.finished(suites.Row('CE', cfg)) == {}


def test_a_run_is_reused_only_with_the_thread_count_it_was_made_with(tmp_path, capsys,
                                                                     monkeypatch,
                                                                     own_schedules):
    """Other threads, other rounding: a run made with 1 thread is redone by a call with 2;
    a run that records none (made before the stamp) is reused; a run made records the count."""
    import json

    import torch
    cfg = 'configs/baselines/demo/convnet_1xb64-30e_demo-cls.py'
    bench = blt.Bench(str(tmp_path), 'demo')
    wd = tmp_path / 'convnet_1xb64-30e_demo-cls'
    wd.mkdir()
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)  # what the runs get
    for recorded, reused in ((1, False), (2, True), (None, True)):
        metrics = {'accuracy/top1': 50.0, **({'threads': recorded} if recorded else {})}
        (wd / 'test_metrics.json').write_text(json.dumps(metrics))
        assert bench.finished(suites.Row('CE', cfg)) == (metrics if reused else {}), recorded
    assert 'made with 1 threads, this call has 2' in capsys.readouterr().out
    (wd / 'test_metrics.json').unlink()
    clock = _Clock()
    monkeypatch.setattr(blt.time, 'time', clock.time)
    monkeypatch.setattr(blt.subprocess, 'run', _fake_subprocess(clock, {wd.name: 1.0}))
    monkeypatch.setattr(bench, 'config', lambda config, retrain_from=None: config)
    assert bench.run(suites.Row('CE', cfg))['threads'] == 2


def test_a_run_is_redone_when_its_config_or_a_run_it_reads_changed(
        tmp_path, monkeypatch, capsys, own_schedules):
    """A finished run records what it was made from (its resolved config, the fingerprint of
    every run it reads): an edit of a value in its config, or in a base the config inherits,
    redoes it, and every run that reads it; a comment does not. A prepared file of another
    folder (a copied ``--out``) is named as a file."""
    import json
    base = tmp_path / 'my_base.py'
    base.write_text(f'_base_ = {str(REPO / suites.CLS_CE)!r}\n')
    ce = tmp_path / 'my_ce.py'
    ce.write_text("_base_ = './my_base.py'\n")
    ce_row = suites.Row('CE', str(ce))
    posthoc = suites.Row('post-hoc', 'configs/peers/demo/convnet_logit-adj-t1-posthoc_demo-cls.py',
                         checkpoint_from=str(ce))
    out = tmp_path / 'out'
    minutes = {'my_ce': 1.0, posthoc.run_name: 0.1, 'convnet_1xb64-30e_demo-cls': 2.0}

    def bench():  # a fresh call: nothing memoised
        b = blt.Bench(str(out), 'demo', seed=0)
        monkeypatch.setattr(blt.subprocess, 'run', _fake_subprocess(_Clock(), minutes))
        return b

    made = bench().run(posthoc)
    assert set(made['made_from']) >= {'config', 'my_ce'}
    overlay = _load(out / 'configs' / (posthoc.run_name + '.py')).to_dict()
    assert made['made_from']['config'] == blt.digest(overlay)
    assert bench().finished(posthoc) == made
    ce.write_text("# CE, with a comment\n_base_ = './my_base.py'\n")
    assert bench().finished(posthoc) == made and bench().finished(ce_row)
    base.write_text(base.read_text() + 'optim_wrapper = dict(optimizer=dict(lr=0.01))\n')
    fresh = bench()
    assert fresh.finished(ce_row) == {} and fresh.finished(posthoc) == {}
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith('[benchmark] CE (') and line.endswith(
        'changed since the run was made: its config; not reused') for line in lines), lines
    assert any(line.startswith('[benchmark] post-hoc (') and line.endswith(
        'changed since the run was made: the run my_ce; not reused') for line in lines), lines
    assert fresh.run(posthoc)['made_from']['my_ce'] == fresh.fingerprint(ce_row)
    assert bench().finished(posthoc) and bench().finished(ce_row)
    # a file prepared in another folder (the record of a copied --out) is named as a file
    metrics_file = out / posthoc.run_name / 'test_metrics.json'
    metrics = json.loads(metrics_file.read_text())
    metrics['made_from']['/elsewhere/seed_0/anchors.safetensors'] = 'digest'
    metrics_file.write_text(json.dumps(metrics))
    assert bench().finished(posthoc) == {}
    assert capsys.readouterr().out.rstrip().endswith(
        'changed since the run was made: the file anchors.safetensors; not reused')


def _record_runs(monkeypatch) -> list:
    """subprocess.run of the runner replaced: a run writes its metrics, checkpoint and
    last_checkpoint, a prepare step its ``--out`` file; the returned list gets each run's work
    dir name / each step's script name, in order."""
    import json
    import os.path as osp
    calls = []

    def run(argv, cwd=None, check=None):
        if '--work-dir' in argv:
            work_dir = argv[argv.index('--work-dir') + 1]
            calls.append(osp.basename(work_dir))
            Path(work_dir, 'test_metrics.json').write_text(json.dumps({'lvis/segm_APr': 0.1}))
            Path(work_dir, 'epoch_1.pth').write_text('weights')
            Path(work_dir, 'last_checkpoint').write_text(osp.join(work_dir, 'epoch_1.pth'))
        else:  # the prepare step
            calls.append(osp.basename(argv[1]))
            out = argv[argv.index('--out') + 1]
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text('anchors')
    monkeypatch.setattr(blt.subprocess, 'run', run)
    return calls


def test_a_prepare_step_is_redone_with_the_run_it_reads(tmp_path, monkeypatch, own_schedules):
    """The detection LGR row's anchors are selected from VL-LTR stage 1, which starts from the
    classification CE model: once CE's config changes, CE, stage 1, the anchor selection and
    LGR are all made again (each once), though the anchor file is still there."""
    calls = _record_runs(monkeypatch)
    lgr = next(row for row in suites.SUITES['all']['det'] if 'vlltr-lgr' in row.config)
    chain = [suites.Row('', suites.CLS_CE).run_name, suites.Row('', suites._VL_PRETRAIN).run_name,
             'select_anchor_sentences.py', lgr.run_name]

    def bench():
        b = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
        monkeypatch.setattr(b, 'config', lambda config, retrain_from=None: config)
        return b

    bench().run(lgr)
    assert calls == chain
    bench().run(lgr)
    assert calls == chain  # all finished, made from the same configs
    load = blt.Bench.load

    def edited(self, config):  # CE's config with another learning rate
        d = load(self, config)
        if config == suites.CLS_CE:
            d['optim_wrapper']['optimizer']['lr'] *= 2
        return d
    monkeypatch.setattr(blt.Bench, 'load', edited)
    del calls[:]
    bench().run(lgr)
    assert calls == chain


def _lgr_chain():
    """The detection LGR row and the runs it is made from, in the order they are made: the
    classification CE model, VL-LTR stage 1 (its config names CE's checkpoint), the anchor
    selection, LGR."""
    lgr = next(row for row in suites.SUITES['all']['det'] if 'vlltr-lgr' in row.config)
    return lgr, [suites.Row('', suites.CLS_CE).run_name,
                 suites.Row('', suites._VL_PRETRAIN).run_name, 'select_anchor_sentences.py',
                 lgr.run_name]


def test_a_copied_out_reuses_its_runs(tmp_path, monkeypatch, own_schedules):
    """What a run is made from names the files of its ``--out`` as ``<out>/...``: the LGR chain
    made in one folder is reused from a copy of it (the original removed), nothing made
    again, and the checkpoints it hands on are the copy's, though each ``last_checkpoint``
    (mmengine's absolute path) still names the original folder."""
    import shutil
    calls = _record_runs(monkeypatch)
    lgr, chain = _lgr_chain()
    blt.Bench(str(tmp_path / 'a' / 'seed_0'), 'demo', seed=0).run(lgr)
    assert calls == chain
    shutil.copytree(tmp_path / 'a', tmp_path / 'b')
    shutil.rmtree(tmp_path / 'a')
    copy = blt.Bench(str(tmp_path / 'b' / 'seed_0'), 'demo', seed=0)
    assert copy.run(lgr) and calls == chain
    ce_dir = tmp_path / 'b' / 'seed_0' / chain[0]
    assert str(tmp_path / 'a') in (ce_dir / 'last_checkpoint').read_text()
    assert copy.last_checkpoint(suites.CLS_CE) == str(ce_dir / 'epoch_1.pth')
    # the copy's stage-1 overlay names the copy's files, and its fingerprint is the original's
    assert str(tmp_path / 'b' / 'seed_0') in (
        tmp_path / 'b' / 'seed_0' / 'configs' / (chain[1] + '.py')).read_text()
    (ce_dir / 'epoch_1.pth').unlink()
    with pytest.raises(FileNotFoundError, match=f'{ce_dir}/last_checkpoint names the '
                       'checkpoint epoch_1.pth, which is not in'):
        copy.last_checkpoint(suites.CLS_CE)


def test_records_made_with_the_paths_as_they_are_are_reused_once_upgraded(
        tmp_path, monkeypatch, own_schedules):
    """Runs recorded before 2026-12-07 (``made_from`` with the paths of their folder as they
    are, the prepared file keyed by its path) are reused in that folder, nothing made again,
    and their records rewritten with ``<out>`` paths when looked at; the same records in a copy
    of the folder name another folder and are made again."""
    import json
    import shutil
    calls = _record_runs(monkeypatch)
    lgr, chain = _lgr_chain()
    out = tmp_path / 'a' / 'seed_0'
    bench = blt.Bench(str(out), 'demo', seed=0)
    bench.run(lgr)
    rows = [suites.Row(suites.CLS_CE, suites.CLS_CE),
            suites.Row(suites._VL_PRETRAIN, suites._VL_PRETRAIN), lgr]
    for row in rows:
        metrics_file = out / row.run_name / 'test_metrics.json'
        metrics = json.loads(metrics_file.read_text())
        old = bench.made_from(row, portable=False)
        # CE's config names no file of the folder; stage 1's names CE's, LGR reads both
        assert (old != metrics['made_from']) == (row is not rows[0]), row
        metrics_file.write_text(json.dumps(dict(metrics, made_from=old)))
    (creates, _), = lgr.prepare
    anchors = bench.arg(creates)
    assert anchors.startswith(str(out)) and bench.portable(anchors).startswith('<out>/')
    Path(anchors + '.made_from').write_text(bench.made_from(lgr, portable=False)[anchors])
    shutil.copytree(tmp_path / 'a', tmp_path / 'b')
    again = blt.Bench(str(out), 'demo', seed=0)
    again.run(lgr)
    assert calls == chain
    for row in rows:  # each record rewritten once its run is looked at
        assert again.finished(row, quiet=True)
        made = json.loads((out / row.run_name / 'test_metrics.json').read_text())['made_from']
        assert made == again.made_from(row)
    again.prepare(lgr)  # as before LGR is made again: the anchors are not selected again
    assert calls == chain and Path(anchors + '.made_from').read_text().strip() == \
        again.made_from(lgr)[again.portable(anchors)]
    del calls[:]
    blt.Bench(str(tmp_path / 'b' / 'seed_0'), 'demo', seed=0).run(lgr)
    assert calls == chain[1:]  # CE's config names no path: its record is the same either way


def test_portable_paths_name_the_output_folder_folder_by_folder():
    """An output folder inside the repository appears in configs relative to it and, in a
    prepare step's config argument, absolute: both become ``<out>``; a folder that only starts
    with the same letters does not."""
    out = str(REPO / 'work_dirs' / 'x' / 'seed_0')
    bench = blt.Bench(out, 'demo', seed=0)
    assert bench.out_rel() == 'work_dirs/x/seed_0'
    assert bench.portable({'load_from': 'work_dirs/x/seed_0/ce/epoch_30.pth',
                           out + '/anchors.json': [out, out + '/', 'work_dirs/x/seed_01/a',
                                                   'data/demo/lvis', 3]}) == \
        {'load_from': '<out>/ce/epoch_30.pth',
         '<out>/anchors.json': ['<out>', '<out>', 'work_dirs/x/seed_01/a', 'data/demo/lvis', 3]}


def _state_shapes(path) -> dict:
    model = build_model(_load(REPO / path))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_rows_on_another_run_get_its_whole_model(demo_data, monkeypatch):
    """A ``checkpoint_from`` row (OLTR stage 1, IIF post-hoc) tests another run's checkpoint,
    a decoupled row (``load_from``) retrains its classifier: the model must have exactly
    that run's parameters, plus nothing but IIF weight buffers (which come from the config) --
    otherwise it would test (or start from) untrained or mismatched weights (mmengine's
    ``load_from`` only warns about missing keys)."""
    monkeypatch.chdir(REPO)
    rows = {(r.config, r.checkpoint_from or r.load_from)
            for suite in suites.SUITES.values()
            for task_rows in suite.values() for r in task_rows
            if r.checkpoint_from or 'decoupled' in r.config}
    assert ('configs/iif/demo/convnet_cosine-s16_iif-smooth-posthoc_demo-cls.py',
            'configs/cosine/demo/convnet_cosine-s16_1xb64-30e_demo-cls.py') in rows
    assert ('configs/iif/demo/mask-rcnn_r18_fpn_iif-raw-decoupled_1xb8-2e_demo-lvis.py',
            'configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py') in rows
    assert len({c for c, _ in rows}) >= 7  # OLTR stage 1, IIF post-hoc x 3, decoupled x 3
    for config, source in sorted(rows):
        tested, loaded = _state_shapes(config), _state_shapes(source)
        extra = set(tested) - set(loaded)
        assert set(loaded) <= set(tested), (config, set(loaded) - set(tested))
        assert all(k.endswith('iif.weights') for k in extra), (config, extra)
        assert ('iif' in Path(config).name) == bool(extra), config  # not the folder name
        assert all(tested[k] == loaded[k] for k in loaded), config


def _finished_run(bench_dir, config: str, metrics: dict) -> None:
    import json
    wd = bench_dir / config.split('/')[-1][:-3]
    wd.mkdir(parents=True)
    (wd / 'test_metrics.json').write_text(json.dumps(metrics))


def test_seeds_table_mean_std_and_paired_interval(tmp_path, own_schedules):
    """Three seeds of CE and IIF: the table gives mean ± std per column and the paired
    few-shot difference to CE with its 95% t-interval (checked against scipy's paired t-test),
    and calls a row higher than CE only where that interval excludes zero."""
    import math

    import numpy as np
    from scipy import stats
    ce_few, iif_few, cos_few = [10.0, 14.0, 12.0], [15.0, 20.0, 16.0], [8.0, 18.0, 13.0]
    rows = [('CE (linear)', 'configs/baselines/demo/convnet_1xb64-30e_demo-cls.py', ce_few),
            ('IIF (linear)', 'configs/iif/demo/convnet_iif-smooth_1xb64-30e_demo-cls.py', iif_few),
            ('cosine', 'configs/cosine/demo/convnet_cosine-s16_1xb64-30e_demo-cls.py', cos_few)]
    for seed in range(3):
        for _, config, few in rows:
            _finished_run(tmp_path / f'seed_{seed}', config,
                          {'accuracy/top1': 50.0 + seed, 'accuracy/few': few[seed],
                           'minutes': 2.0})
    tool.main(['--suite', 'iif', '--tasks', 'cls', '--reuse-only', '--out', str(tmp_path),
              '--seeds', '0', '1', '2'])
    md = (tmp_path / 'iif.md').read_text()
    lines = {line.split(' | ')[0].lstrip('| '): line.split(' | ') for line in md.splitlines()
             if line.startswith('| ')}
    ce, iif, cos = lines['CE (linear)'], lines['IIF (linear)'], lines['cosine']
    assert ce[2] == f'51.0 ± {np.std([50, 51, 52], ddof=1):.1f}'  # top-1 mean ± std
    assert iif[5] == f'{np.mean(iif_few):.1f} ± {np.std(iif_few, ddof=1):.1f}'
    for row, few in ((iif, iif_few), (cos, cos_few)):
        ci = stats.ttest_rel(few, ce_few).confidence_interval(0.95)
        diff = np.mean(np.subtract(few, ce_few))
        assert row[6] == f'{diff:+.1f} [{ci.low:+.1f}, {ci.high:+.1f}]'
        expected = 'above CE (linear)' if ci.low > 0 else 'not distinguishable'
        assert row[7] == expected and row[8] == '3'
    assert iif[7] == 'above CE (linear)' and cos[7] == 'not distinguishable'
    assert ce[6:8] == ['—', 'baseline']
    assert 'cosine + IIF' in lines and lines['cosine + IIF'][2] == '-'  # no run: no cells
    csv_rows = (tmp_path / 'iif_cls.csv').read_text().splitlines()
    assert len(csv_rows) == 1 + 3 * 3 and csv_rows[0].startswith('method,config,seed,')
    assert not math.isnan(float(csv_rows[1].split(',')[3]))


def test_the_printed_command_names_the_thread_count_it_ran_with(tmp_path, monkeypatch,
                                                                own_schedules):
    """OMP_NUM_THREADS decides the rounding, so a call made with it says so in the command a
    report prints (else a rerun of that command gets the machine's default count)."""
    import torch

    from ltr_plugins.benchmarking import report
    argv = ['--suite', 'iif', '--tasks', 'cls', '--reuse-only', '--out', str(tmp_path)]
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert tool.main(argv).startswith('Results of `python tools/benchmark_lt.py --suite iif')
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert tool.main(argv).startswith(
        'Results of `OMP_NUM_THREADS=1 python tools/benchmark_lt.py --suite iif --tasks cls')
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 1)
    assert report.machine().endswith('(1 thread per process)')
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    assert report.machine().endswith('(2 threads per process)')


def test_one_seed_gives_no_verdict_and_seeds_are_distinct(tmp_path, capsys, own_schedules):
    _finished_run(tmp_path / 'seed_5', 'configs/baselines/demo/convnet_1xb64-30e_demo-cls.py',
                  {'accuracy/few': 1.0})
    _finished_run(tmp_path / 'seed_5', 'configs/iif/demo/convnet_iif-smooth_1xb64-30e_demo-cls.py',
                  {'accuracy/few': 9.0})
    tool.main(['--suite', 'iif', '--tasks', 'cls', '--reuse-only', '--out', str(tmp_path),
              '--seeds', '5'])
    md = (tmp_path / 'iif.md').read_text()
    assert '| +8.0 | one seed: no interval | 1 |' in md
    assert 'one seed: no intervals, no verdicts' in md
    with pytest.raises(SystemExit):
        tool.main(['--reuse-only', '--out', str(tmp_path), '--seeds', '1', '1'])
    assert 'each seed once' in capsys.readouterr().err


def test_seeded_bench_sets_the_training_seed(tmp_path):
    bench = blt.Bench(str(tmp_path / 'seed_3'), 'demo', seed=3)
    cfg = _load(bench.config('configs/baselines/demo/convnet_1xb64-30e_demo-cls.py'))
    assert cfg.randomness.seed == 3
    assert cfg.embedded_data.seed == 0  # the data stay the same across seeds


class _Clock:
    """time.time() of the runner, advanced by the fake runs (minutes)."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now


def _fake_subprocess(clock, minutes_of):
    """subprocess.run of the runner: a train_test / test call 'takes' minutes_of[run name]
    minutes and writes the run's metrics, checkpoint and last_checkpoint."""
    import json
    import os.path as osp

    def run(argv, cwd=None, check=None):
        work_dir = argv[argv.index('--work-dir') + 1]
        name = osp.basename(osp.normpath(work_dir))
        clock.now += 60 * minutes_of[name]
        Path(work_dir, 'test_metrics.json').write_text(json.dumps({'accuracy/few': 1.0}))
        Path(work_dir, 'epoch_1.pth').write_text('weights')
        Path(work_dir, 'last_checkpoint').write_text(osp.join(work_dir, 'epoch_1.pth'))
    return run


def test_a_run_made_on_the_way_counts_once(tmp_path, monkeypatch, capsys, own_schedules):
    """Post-hoc IIF on the cosine model, with the cosine model not made yet: the runner makes
    it first, as a run of its own. The post-hoc row's minutes are its own test only, the
    cosine run is in its ``sources``; a table counts a source once, and not at all when the
    source is a row of the call itself."""
    clock = _Clock()
    cosine, posthoc = suites.SUITES['full-e2e']['cls'][2:4]
    minutes = {cosine.run_name: 3.0, posthoc.run_name: 0.25}
    monkeypatch.setattr(blt.time, 'time', clock.time)
    monkeypatch.setattr(blt.subprocess, 'run', _fake_subprocess(clock, minutes))
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
    monkeypatch.setattr(bench, 'config', lambda config, retrain_from=None: config)
    metrics = bench.run(posthoc)
    assert posthoc.checkpoint_from == cosine.config
    assert metrics['minutes'] == pytest.approx(0.25)
    assert metrics['sources'] == {cosine.run_name: pytest.approx(3.0)}
    assert bench.made == [(cosine.run_name, pytest.approx(3.0)),
                          (posthoc.run_name, pytest.approx(0.25))]
    # the run made on the way is named by its config, once; a row by its name and config
    assert capsys.readouterr().out.splitlines() == [
        f'[benchmark] {cosine.config} (seed 0) done in 3.0 min',
        f'[benchmark] {posthoc.name} ({posthoc.config}, seed 0) done in 0.2 min']
    rows = [(posthoc.name, posthoc.config, {0: metrics})]
    counted = set()
    assert tool.table_minutes(rows, {(0, posthoc.run_name)}, counted) == pytest.approx(3.25)
    assert tool.table_minutes(rows, {(0, posthoc.run_name)}, counted) == pytest.approx(0.25)
    assert tool.table_minutes(rows, {(0, posthoc.run_name), (0, cosine.run_name)},
                              set()) == pytest.approx(0.25)


def test_runs_a_config_names_and_their_configs():
    """VL-LTR stage 1 starts its image tower from the CE model's checkpoint, named in the
    config itself (not by a Row): the runner finds that run and its config."""
    from mmengine.config import Config
    pretrain = Config.fromfile(str(REPO / suites._VL_PRETRAIN)).to_dict()
    assert blt.runs_named(pretrain) == [suites.Row('', suites.CLS_CE).run_name]
    assert blt.config_of_run(suites.Row('', suites.CLS_CE).run_name, 'x.py') == suites.CLS_CE
    assert blt.runs_named({'a': ['work_dirs/benchmark_lt_bench/r/x.pth', 'data/demo/y'],
                           'b': {'c': 'work_dirs/benchmark_lt/r/e.pth'},
                           'd': 'work_dirs/benchmark_lt/r/f'}) == ['r']
    with pytest.raises(ValueError, match=r'my\.py names files of the benchmark run \'nope\''):
        blt.config_of_run('nope', 'my.py')


def test_every_run_a_suite_config_names_is_a_demo_config():
    """Whatever run a suite's config reads files of, the runner can make it first."""
    from mmengine.config import Config
    configs = {c for rows in (r for suite in suites.SUITES.values() for r in suite.values())
               for row in rows
               for c in (row.config, row.load_from, row.checkpoint_from, row.retrain_from) if c}
    named = set()
    for config in sorted(configs):
        for name in blt.runs_named(Config.fromfile(str(REPO / config)).to_dict()):
            named.add(blt.config_of_run(name, config))
    assert suites.CLS_CE in named and suites.DET_CE in named and suites._VL_PRETRAIN in named


def test_a_run_first_makes_the_runs_its_config_reads(tmp_path, monkeypatch, own_schedules):
    """The detection LGR row on a fresh output folder (a --tasks det call): its anchors come
    from VL-LTR stage 1, whose config starts from the classification CE model; the runner makes
    CE, then stage 1, then selects the anchors, then trains LGR (each run once, also with
    --force)."""
    calls = _record_runs(monkeypatch)
    lgr = next(row for row in suites.SUITES['all']['det'] if 'vlltr-lgr' in row.config)
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0, force=True)
    monkeypatch.setattr(bench, 'config', lambda config, retrain_from=None: config)
    bench.run(lgr)
    bench.run(suites.Row('VL-LTR stage 1', suites._VL_PRETRAIN))  # made above: not again
    assert calls == [suites.Row('', suites.CLS_CE).run_name,
                     suites.Row('', suites._VL_PRETRAIN).run_name,
                     'select_anchor_sentences.py', lgr.run_name]
    # OLTR's stage 2 config starts from its stage 1 run; the row replaces that by CE's
    oltr = next(row for row in suites.SUITES['all']['cls'] if 'oltr-stage2' in row.config)
    assert 'oltr-stage1' in Path(REPO, oltr.config).read_text() and oltr.load_from
    del calls[:]
    bench.run(oltr)
    assert calls == [oltr.run_name]


def _fake_runs(monkeypatch, barrier=None, fail_seed=None):
    """Bench.run / run_group replaced: a run 'made' once per (seed, run name), recorded in the
    returned list with the OMP_WAIT_POLICY it saw; a seed's first run waits at ``barrier``
    (so the test fails unless that many seeds run at once); ``fail_seed``'s runs raise."""
    import os
    import threading
    lock, made, done = threading.Lock(), [], {}

    def run(self, row):
        key = (self.seed, row.run_name)
        if key in done:
            return done[key]
        if barrier is not None and not any(seed == self.seed for seed, _, _ in made):
            barrier.wait()
        if self.seed == fail_seed:
            raise RuntimeError(f'run {row.run_name} of seed {self.seed} failed')
        with lock:
            made.append((self.seed, row.run_name, os.environ.get('OMP_WAIT_POLICY')))
        done[key] = {'accuracy/top1': 50.0 + self.seed, 'minutes': 1.0, 'jobs': self.jobs,
                     'accuracy/few': len(row.run_name) % 7 + self.seed}
        return done[key]

    monkeypatch.setattr(blt.Bench, 'run', run)
    monkeypatch.setattr(blt.Bench, 'run_group', lambda self, rows: {})
    return made


def _table_lines(md):
    return [line for line in md.splitlines() if line.startswith('| ')]


def test_jobs_make_seeds_at_once_in_serial_order(tmp_path, monkeypatch, own_schedules):
    """--jobs 3: the three seeds run at once (a barrier that needs all three), each seed's
    runs in the order of a serial call, with OMP_WAIT_POLICY=PASSIVE for their processes
    (restored after); the tables are those of the serial call."""
    import threading
    monkeypatch.delenv('OMP_WAIT_POLICY', raising=False)
    argv = ['--suite', 'quick', '--tasks', 'cls', '--seeds', '0', '1', '2']
    serial = _fake_runs(monkeypatch)
    md_serial = tool.main([*argv, '--out', str(tmp_path / 'serial')])
    at_once = _fake_runs(monkeypatch, threading.Barrier(3, timeout=30))
    md_jobs = tool.main([*argv, '--out', str(tmp_path / 'jobs'), '--jobs', '3'])
    assert _table_lines(md_jobs) == _table_lines(md_serial)
    assert '--jobs 3' in md_jobs
    for seed in (0, 1, 2):
        order = [name for s, name, _ in serial if s == seed]
        assert [name for s, name, _ in at_once if s == seed] == order and len(order) == 8
    assert {policy for *_, policy in serial} == {None}
    assert {policy for *_, policy in at_once} == {'PASSIVE'}
    import os
    assert 'OMP_WAIT_POLICY' not in os.environ


def test_jobs_a_failing_seed_lets_the_others_finish(tmp_path, monkeypatch, own_schedules):
    made = _fake_runs(monkeypatch, fail_seed=1)
    with pytest.raises(RuntimeError, match='of seed 1 failed'):
        tool.main(['--suite', 'quick', '--tasks', 'cls', '--seeds', '0', '1', '2', '--jobs',
                   '2', '--out', str(tmp_path)])
    assert sorted({seed for seed, _, _ in made}) == [0, 2]
    assert len(made) == 2 * 8


def test_benches_of_several_seeds_write_their_configs_from_threads(tmp_path):
    """--jobs makes runs from one thread per seed; their overlay configs are loaded with
    mmengine's Config, which fails when raced (seen without the runner's lock)."""
    from concurrent.futures import ThreadPoolExecutor
    config = suites.det('peers', 'sample0.15_1xb8-6e')
    benches = [blt.Bench(str(tmp_path / f'seed_{s}'), 'demo', seed=s, jobs=3) for s in range(3)]
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda b: [b.config(config) for _ in range(3)][-1], benches))
    assert [_load(p).randomness.seed for p in paths] == [0, 1, 2]


def test_a_seed_folder_takes_one_call_at_a_time(tmp_path, monkeypatch, own_schedules):
    """Two calls on the same seed folder would train into the same work dirs: a call holds
    each of its seed folders while it runs (its runs see the folder held, by a holder naming
    the call); a second call on a held folder stops before making anything, naming the folder
    and the call that holds it; other seeds of the same --out, and the folder once released,
    are free."""
    import os

    from ltr_plugins.fileio import LockHeld, file_lock
    argv = ['--suite', 'quick', '--tasks', 'cls', '--out', str(tmp_path)]
    seen = []

    def run(self, row):
        with pytest.raises(LockHeld) as e:
            with file_lock(os.path.join(self.out, tool.LOCK), wait=False):
                pass
        seen.append((self.seed, e.value.holder))
        return {'accuracy/top1': 50.0, 'accuracy/few': 1.0, 'minutes': 1.0}

    monkeypatch.setattr(blt.Bench, 'run', run)
    monkeypatch.setattr(blt.Bench, 'run_group', lambda self, rows: {})
    held = tmp_path / 'seed_1' / tool.LOCK
    with file_lock(held, 'pid 123 since then: python tools/benchmark_lt.py --seeds 1'):
        with pytest.raises(SystemExit, match=r'seed_1 is in use by another call \(pid 123 '
                                             r'since then: python tools/benchmark_lt.py '
                                             r'--seeds 1\)'):
            tool.main([*argv, '--seeds', '0', '1'])
        assert seen == []  # not even seed 0 was made
        tool.main([*argv, '--seeds', '0', '2'])
    assert {seed for seed, _ in seen} == {0, 2}
    assert all(f'pid {os.getpid()} since ' in holder and
               'benchmark_lt.py --suite quick --tasks cls --seeds 0 2' in holder
               for _, holder in seen)
    tool.main([*argv, '--seeds', '1'])  # released
    assert seen[-1][0] == 1
