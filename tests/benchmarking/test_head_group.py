"""python -m ltr_plugins.benchmarking.head_group: shared-tier detection runs whose box heads
train together on one trunk, each tested alone; which runs may join; the runner's accounting."""
import json
import os.path as osp

import pytest
import torch
from ltr_testing import REPO, build_model, run_tool

import ltr_plugins.benchmarking.head_group as head_group
from ltr_plugins.benchmarking import runner
from ltr_plugins.benchmarking.suites import Row

TINY = REPO / 'tests/configs'
RETRAIN = ("model = dict(type='BoxHeadRetrainDetector')\n"
           "train_cfg = dict(max_epochs=1, val_begin=2)\n"
           "default_hooks = dict(logger=dict(interval=1))\n")


def _member(tmp_path, name: str, base: str, extra: str = '') -> str:
    path = tmp_path / f'{name}.py'
    path.write_text(f'_base_ = {str(TINY / base)!r}\n{RETRAIN}{extra}')
    return str(path)


def _configs(paths):
    from mmengine.config import Config
    return [Config.fromfile(p) for p in paths]


def _plain_checkpoint(tmp_path):
    """A plain tiny Mask R-CNN (seed 0) saved as a checkpoint to retrain from: (its path, its
    weights)."""
    from mmengine.config import Config
    torch.manual_seed(0)
    plain = build_model(Config.fromfile(str(TINY / 'mask_rcnn_tiny.py')))
    plain.init_weights()
    source = tmp_path / 'plain.pth'
    torch.save({'state_dict': plain.state_dict()}, source)
    return source, plain.state_dict()


def test_partition_groups_runs_that_train_alike(tmp_path, tiny_data):
    """Another RoI head joins; another learning rate, sampler or hook does not; a dataset
    written differently joins only where its training samples are the same (RFS at a threshold
    no class reaches on the tiny data repeats nothing, at 0.9 it repeats images)."""
    paths = [_member(tmp_path, 'ce', 'mask_rcnn_tiny.py'),
             _member(tmp_path, 'camc', 'mask_rcnn_camc_iif_tiny.py'),
             _member(tmp_path, 'lr', 'mask_rcnn_tiny.py',
                     'optim_wrapper = dict(optimizer=dict(lr=5e-3))\n'),
             _member(tmp_path, 'no_rfs', 'mask_rcnn_tiny.py',
                     'train_dataloader = dict(dataset=dict(oversample_thr=0.0))\n'),
             _member(tmp_path, 'rfs', 'mask_rcnn_tiny.py',
                     'train_dataloader = dict(dataset=dict(oversample_thr=0.9))\n'),
             _member(tmp_path, 'sampler', 'mask_rcnn_tiny.py',
                     "train_dataloader = dict(sampler=dict(shuffle=False))\n"),
             _member(tmp_path, 'trunk', 'mask_rcnn_tiny.py',
                     "model = dict(type='BoxHeadRetrainDetector', "
                     'rpn_head=dict(feat_channels=16))\n')]
    group, alone = head_group.partition(_configs(paths))
    assert group == [0, 1, 3]
    assert alone == {2: 'optim_wrapper differs', 4: 'its training samples differ',
                     5: 'train_dataloader differs (outside its dataset)',
                     6: 'model.rpn_head differs'}
    cfgs = _configs(paths[:2])  # tested in one pass only where the tests are the same
    assert head_group._test_difference(cfgs[0], cfgs[1]) is None
    cfgs[1].test_dataloader.batch_size = 1
    assert head_group._test_difference(cfgs[0], cfgs[1]) == 'test_dataloader differs'
    clipped = _configs(paths[:2])
    clipped[0].optim_wrapper.clip_grad = dict(max_norm=1.0)
    assert head_group.partition(clipped) == ([], {0: 'optim_wrapper.clip_grad couples the '
                                                  'members', 1: 'optim_wrapper.clip_grad '
                                                  'couples the members'})


def test_group_run_trains_heads_together_and_tests_each(tmp_path, tiny_data):
    """Two runs join (linear; CAMC + IIF + cosine), one trains alone (another learning rate).
    Each member's checkpoint is an ordinary detector checkpoint: the frozen weights are the
    loaded ones, its box head moved; each has its own test metrics, from one test pass of the
    group, equal to those of tools/test.py on its checkpoint (and its own per-class file)."""
    from ltr_plugins.compat import safe_torch_load
    paths = [_member(tmp_path, 'ce', 'mask_rcnn_tiny.py'),
             _member(tmp_path, 'camc', 'mask_rcnn_camc_iif_tiny.py'),
             _member(tmp_path, 'lr', 'mask_rcnn_tiny.py',
                     'optim_wrapper = dict(optimizer=dict(lr=5e-3))\n')]
    source, weights = _plain_checkpoint(tmp_path)
    members = []
    for p in paths:
        work = tmp_path / ('run_' + p.rsplit('/', 1)[-1][:-3])
        members += ['--member', p, work, work / 'metrics.json']
    proc = run_tool(['-m', 'ltr_plugins.benchmarking.head_group', '--work-dir',
                     tmp_path / 'group', '--load-from', source, *members])
    assert 'training 2 heads on one trunk: run_ce, run_camc' in proc.stdout
    assert 'testing 2 heads on one trunk' in proc.stdout
    assert 'lr.py trains alone: optim_wrapper differs' in proc.stdout
    for name, group in (('ce', ['run_ce', 'run_camc']), ('camc', ['run_ce', 'run_camc']),
                        ('lr', [])):
        work = tmp_path / f'run_{name}'
        metrics = json.loads((work / 'metrics.json').read_text())
        assert metrics['group'] == group and metrics['test_group'] == group
        assert metrics['own_minutes'] > 0 and 'lvis/segm_AP' in metrics
        checkpoint = (work / 'last_checkpoint').read_text().strip()
        if group:  # tested in the group's pass: the metrics of a test of its own
            alone = tmp_path / f'alone_{name}'
            run_tool(['tools/test.py', paths[['ce', 'camc'].index(name)], checkpoint,
                      '--work-dir', alone, '--metrics-out', alone / 'metrics.json'])
            want = json.loads((alone / 'metrics.json').read_text())
            assert {k: metrics[k] for k in want} == want
            assert (work / 'test').is_dir()  # its evaluator's per-class files, in its folder
            assert sorted(p.name for p in (work / 'test').iterdir()) == \
                sorted(p.name for p in (alone / 'test').iterdir())
        ckpt = safe_torch_load(checkpoint)['state_dict']
        assert not any(k.startswith('members.') for k in ckpt)
        for key, value in weights.items():
            if not key.startswith('roi_head.bbox_head.'):
                assert torch.equal(ckpt[key], value), (name, key)
        assert not torch.equal(ckpt['roi_head.bbox_head.fc_reg.weight'],
                               weights['roi_head.bbox_head.fc_reg.weight'])


def _make(tmp_path, source, group: str, members) -> dict:
    """Run head_group with ``members`` ((name, config) pairs) under ``tmp_path/group``: each
    member's (final box head weights, test metrics)."""
    from ltr_plugins.compat import safe_torch_load
    args = []
    for name, config in members:
        work = tmp_path / group / name
        args += ['--member', config, work, work / 'metrics.json']
    run_tool(['-m', 'ltr_plugins.benchmarking.head_group', '--work-dir',
              tmp_path / group / 'group', '--load-from', source, *args])
    made = {}
    for name, _ in members:
        work = tmp_path / group / name
        ckpt = safe_torch_load((work / 'last_checkpoint').read_text().strip())['state_dict']
        metrics = json.loads((work / 'metrics.json').read_text())
        made[name] = ({k: v for k, v in ckpt.items() if k.startswith('roi_head.bbox_head.')},
                      {k: v for k, v in metrics.items() if k.startswith('lvis/')})
    return made


def _same(a, b) -> bool:
    return a[1] == b[1] and a[0].keys() == b[0].keys() and \
        all(torch.equal(a[0][k], b[0][k]) for k in a[0])


def test_a_run_is_made_the_same_in_any_group(tmp_path, tiny_data):
    """Whole runs through the runner: a group's first run is its run alone (weights and
    metrics to the bit), and another member's run is the same in a group of two and of three."""
    source, _ = _plain_checkpoint(tmp_path)
    ce, camc = _member(tmp_path, 'ce', 'mask_rcnn_tiny.py'), \
        _member(tmp_path, 'camc', 'mask_rcnn_camc_iif_tiny.py')
    two = _make(tmp_path, source, 'two', [('ce', ce), ('camc', camc)])
    three = _make(tmp_path, source, 'three', [('ce', ce), ('ce_again', ce), ('camc', camc)])
    alone = _make(tmp_path, source, 'alone', [('ce', ce)])
    assert _same(two['ce'], alone['ce']) and _same(three['ce'], alone['ce'])
    assert _same(three['ce_again'], alone['ce'])
    assert _same(two['camc'], three['camc']) and not _same(two['camc'], two['ce'])


def test_bench_run_group_shares_the_wall_time(tmp_path, monkeypatch):
    """The runs' minutes add up to the call's wall time but for the CE run it made first
    (in their ``sources``, counted once by the table): each its own test plus an equal share of
    the rest; a run trained alone keeps its own minutes; fewer than two runs to make: nothing
    done here (Bench.run makes it). Which runs a later call makes again: a grouped run with
    the group's first run (whose random stream every member draws), all of them when the first
    run is to be made."""
    bench = runner.Bench(str(tmp_path), 'demo', seed=0)
    base = 'configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'
    rows = [Row('control', base, retrain_from=base),
            Row('a', 'configs/cosine/demo/mask-rcnn_r18_fpn_cosine-t20_sample1e-3_1xb8-6e_'
                'demo-lvis.py', retrain_from=base),
            Row('c', 'configs/iif/demo/mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py',
                retrain_from=base),
            Row('b', 'configs/oltr/demo/mask-rcnn_r18_fpn_oltr-stage2_sample1e-3_1xb8-3e_'
                'demo-lvis.py', retrain_from=base)]
    work = {bench.work_dir(row.config, row.retrain_from): row for row in rows}

    def make_ce(config):  # the CE model is not made yet: 6 minutes, a run of its own
        bench.made.append(('ce', 6.0))
        return 'ce.pth'

    monkeypatch.setattr(bench, 'last_checkpoint', make_ce)
    monkeypatch.setattr(bench, 'config', lambda config, retrain_from: config)
    clock = iter([100.0, 100.0 + 60 * 19])  # the call takes 19 minutes, 6 of them the CE run
    monkeypatch.setattr(runner.time, 'time', lambda: next(clock))
    own = {'control': 1.0, 'a': 2.0, 'c': 3.0, 'b': 4.0}
    calls = []

    def fake_run(argv, **kwargs):  # head_group: the members but OLTR's head ('b') together
        calls.append(argv)
        made = [argv[i + 2] for i, arg in enumerate(argv) if arg == '--member']
        group = [osp.basename(w) for w in made if work[w].name != 'b']
        for w in made:
            (tmp_path / w).mkdir(parents=True, exist_ok=True)
            json.dump({'lvis/segm_AP': 1.0, 'own_minutes': own[work[w].name],
                       'group': [] if work[w].name == 'b' else group},
                      open(f'{w}/test_metrics.json', 'w'))
    monkeypatch.setattr(runner.subprocess, 'run', fake_run)

    def made_again():  # the rows of run_group's call, in the order given to head_group
        assert bench.run_group(rows)
        return [work[calls[-1][i + 2]].name for i, a in enumerate(calls[-1]) if a == '--member']

    made = bench.run_group(rows)
    assert len(calls) == 1 and calls[0][calls[0].index('--load-from') + 1] == 'ce.pth'
    assert calls[0].count('--member') == 4
    minutes = {row.name: m['minutes'] for row, m in made.items()}
    assert minutes == pytest.approx({'control': 2.0, 'a': 3.0, 'c': 4.0, 'b': 4.0})
    assert sum(minutes.values()) == pytest.approx(13.0)
    assert all(m['sources'] == {'ce': 6.0} for m in made.values())
    # each run records what it was made from: its own config, the CE run it retrains
    ce = Row('', base).run_name
    assert all(m['made_from'] == bench.made_from(row) and
               m['made_from'][ce] == bench.fingerprint(Row(base, base)) for row, m in made.items())
    assert len({m['made_from']['config'] for m in made.values()}) == 4
    assert bench.run_group(rows) == {}  # all finished now
    assert bench.run_group(rows[:1]) == {}
    monkeypatch.setattr(runner.time, 'time', lambda: 0.0)
    files = {row.name: tmp_path / bench.work_dir(row.config, row.retrain_from) /
             'test_metrics.json' for row in rows}

    def edit(name, **fields):
        files[name].write_text(json.dumps({**json.loads(files[name].read_text()), **fields}))
    # a grouped run draws the random stream of the group's first run alone, whatever the
    # others: made again with the first run ('c' and 'b', which trained alone, stay)
    files['a'].unlink()
    assert made_again() == ['control', 'a']
    # the first run to be made again: every member's stream with it
    edit('control', made_from={'config': 'an edited config'})
    assert made_again() == ['control', 'a', 'c']
    # a run trained in a group led by another run drew another stream: made again
    edit('c', group=['another run', 'c'])
    assert made_again() == ['control', 'c']
    # only the run that trains alone to be made again: made alone, so that it records
    # 'group': [] (not taken next time for a run made outside its group); the group stays
    edit('b', made_from={'config': 'an edited config'})
    assert made_again() == ['b']
    # a run made outside its group (Bench.run records no 'group') is made again with it
    a = json.loads(files['a'].read_text())
    del a['group']
    files['a'].write_text(json.dumps({**a, 'made_from': bench.made_from(rows[1])}))
    assert made_again() == ['control', 'a']


def test_classification_runs_train_on_one_backbone(tmp_path, tiny_data):
    """Two shared-tier classification runs (linear head; CAMC cosine head without neck) on
    a frozen backbone train as one ClassifierRetrainGroup; each checkpoint keeps the loaded
    backbone and has its own head and test metrics, from the group's test pass, equal to those
    of tools/test.py on its checkpoint."""
    from mmengine.config import Config

    from ltr_plugins.compat import safe_torch_load
    frozen = ("model = dict(backbone=dict(frozen=True))\n"
              "train_cfg = dict(max_epochs=1, val_interval=2)\n")
    paths = []
    for name, base in (('ce', 'convnet_tiny.py'), ('camc', 'convnet_camc_tiny.py')):
        path = tmp_path / f'{name}.py'
        path.write_text(f'_base_ = {str(TINY / base)!r}\n{frozen}')
        paths.append(str(path))
    cfg = Config.fromfile(str(TINY / 'convnet_tiny.py'))
    cfg.model.data_preprocessor = cfg.data_preprocessor
    torch.manual_seed(0)
    plain = build_model(cfg)
    plain.init_weights()
    source = tmp_path / 'plain.pth'
    torch.save({'state_dict': plain.state_dict()}, source)
    members = []
    for p in paths:
        work = tmp_path / ('run_' + p.rsplit('/', 1)[-1][:-3])
        members += ['--member', p, work, work / 'metrics.json']
    proc = run_tool(['-m', 'ltr_plugins.benchmarking.head_group', '--work-dir',
                     tmp_path / 'group', '--load-from', source, *members])
    assert 'training 2 heads on one trunk: run_ce, run_camc' in proc.stdout
    assert "type='ClassifierRetrainGroup'" in (tmp_path / 'group/configs/head_group.py'
                                               ).read_text()
    # head_group.test_together on its own, in a fresh process (it sets up checkpoint loading
    # itself, as tools/test.py), gives the same metrics again
    script = ('import json, sys; from ltr_plugins.benchmarking.head_group import test_together; '
              'print(json.dumps(test_together(*sys.argv[1:4], sys.argv[4:6], sys.argv[6:8])))')
    group_ckpt = (tmp_path / 'group/last_checkpoint').read_text().strip()
    again = run_tool(['-c', script, tmp_path / 'group/configs/head_group.py', group_ckpt,
                      tmp_path / 'again', *paths, tmp_path / 'again_ce', tmp_path / 'again_camc'])
    again = json.loads(again.stdout.strip().splitlines()[-1])
    for name in ('ce', 'camc'):
        work = tmp_path / f'run_{name}'
        metrics = json.loads((work / 'metrics.json').read_text())
        assert metrics['group'] == ['run_ce', 'run_camc'] == metrics['test_group']
        checkpoint = (work / 'last_checkpoint').read_text().strip()
        alone = tmp_path / f'alone_{name}'  # the group's test pass gave its own test's metrics
        run_tool(['tools/test.py', paths[['ce', 'camc'].index(name)], checkpoint,
                  '--work-dir', alone, '--metrics-out', alone / 'metrics.json'])
        want = json.loads((alone / 'metrics.json').read_text())
        assert 'accuracy/top1' in want and {k: metrics[k] for k in want} == want
        assert again[['ce', 'camc'].index(name)] == want
        ckpt = safe_torch_load(checkpoint)['state_dict']
        for key, value in plain.state_dict().items():
            if key.startswith('backbone.'):
                assert torch.equal(ckpt[key], value), (name, key)
        head = [k for k in ckpt if k.startswith('head.') and k in plain.state_dict()]
        if name == 'ce':
            assert head and any(not torch.equal(ckpt[k], plain.state_dict()[k]) for k in head)
