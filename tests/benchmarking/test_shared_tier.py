"""The shared-backbone tier of tools/benchmark_lt.py (``Row.retrain_from``, ``runner.head_only``):
every head-level row retrains only its classifier on the frozen CE model of the seed; the
quick tier writes it as its own table next to the end-to-end one."""
import json

import pytest
import torch
from ltr_testing import REPO, build_model

from ltr_plugins.benchmarking import runner as blt
from ltr_plugins.benchmarking import suites
from ltr_plugins.tools import benchmark_lt as tool


def _load(path):
    from mmengine.config import Config
    return Config.fromfile(str(path))


def _shared_rows(task):
    return suites.SUITES['shared'][task]


def test_every_head_level_row_of_all_is_retrained_on_ce_next_to_a_control():
    for task, base in (('cls', suites.CLS_CE), ('det', suites.DET_CE)):
        rows = _shared_rows(task)
        assert rows[0].config == base and rows[0].name.startswith('control')
        heads = [r for r in suites.SUITES['all'][task] if r.head]
        assert [r.config for r in rows[1:]] == [r.config for r in heads] and len(heads) >= 5
        assert all(r.retrain_from == base and not r.load_from and not r.checkpoint_from
                   for r in rows)
        names = [r.run_name for r in rows]
        assert all(n.endswith('_head-retrain') for n in names) and len(set(names)) == len(names)
    # not head-level: a different backbone (VL-LTR) or a whole-model data method (RFS)
    heads = {r.config for t in ('cls', 'det') for r in suites.SUITES['shared'][t]}
    assert suites.cls('vlltr', 'vlltr-lgr-m8_1xb64-15e') not in heads
    assert suites.det('peers', 'sample0.15_1xb8-6e') not in heads


def test_shared_tier_on_the_9_epoch_detector_is_a_tier_of_its_own(tmp_path, monkeypatch):
    """``--suite shared-9e``: the same head-level detection rows retrained on the 9-epoch CE
    detector, next to its own control; runs of their own (a finished run on the 6-epoch model
    is not reused), trained alike so that they group; no classification rows."""
    monkeypatch.chdir(REPO)
    rows, six = suites.SUITES['shared-9e']['det'], _shared_rows('det')
    assert suites.SUITES['shared-9e']['cls'] == []
    assert rows[0].config == suites.DET_CE_9E == suites.det('peers', 'sample1e-3_1xb8-9e')
    assert [r.config for r in rows[1:]] == [r.config for r in six[1:]]
    assert all(r.retrain_from == suites.DET_CE_9E for r in rows)
    names = [r.run_name for r in rows]
    assert all(n.endswith('_head-retrain_on-mask-rcnn_r18_fpn_sample1e-3_1xb8-9e_demo-lvis')
               for n in names)
    assert set(names).isdisjoint(r.run_name for r in six)
    assert suites.tier_of('shared-9e') == 'shared' == suites.tier_of('quick-shared')
    assert '9-epoch CE detector' in suites.table_title('shared-9e')
    _finished(tmp_path, 0, six[1], {'lvis/segm_APr': 0.5, 'budget': None})
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
    assert bench.finished(six[1], quiet=True)
    assert bench.finished(rows[1], quiet=True) == {}
    # the control's overlay (a 9-epoch config) trains on the schedule of the others' (6-epoch)
    control, iif = (_load(bench.config(r.config, r.retrain_from)) for r in rows[:2])
    assert control.model.type == iif.model.type == blt.DET_RETRAIN_TYPE
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper'):
        assert control[key] == iif[key], key
    with pytest.raises(SystemExit):
        tool.parse_args(['--suite', 'shared-9e', '--tasks', 'cls'])


def test_shared_tier_on_the_batch_16_classifier_retrains_as_the_demo_shared_tier(
        tmp_path, monkeypatch):
    """``--suite b16``: the CE classifier at batch 16 (same epochs, 4x the updates) end to end
    next to the demo's, and every head-level classification row retrained on it next to a
    control; every retraining -- the control's too -- has the demo shared tier's recipe (batch
    64), not the batch-16 base's, so that the rows group and the control differs from them
    only in its head; runs of their own; no detection rows."""
    monkeypatch.chdir(REPO)
    rows, demo = suites.SUITES['shared-b16']['cls'], _shared_rows('cls')
    assert suites.TIERS['b16'] == ('b16-e2e', 'shared-b16')
    assert suites.SUITES['shared-b16']['det'] == suites.SUITES['b16-e2e']['det'] == []
    assert [r.config for r in suites.SUITES['b16-e2e']['cls']] == [suites.CLS_CE,
                                                                   suites.CLS_CE_B16]
    assert suites.CLS_CE_B16 == suites.cls('baselines', '1xb16-30e')
    assert [r.config for r in rows] == [r.config for r in demo]  # the control: the demo CE
    assert all(r.retrain_from == suites.CLS_CE_B16 for r in rows)
    names = [r.run_name for r in rows]
    assert all(n.endswith('_head-retrain_on-convnet_1xb16-30e_demo-cls') for n in names)
    assert set(names).isdisjoint(r.run_name for r in demo)
    assert suites.tier_of('shared-b16') == 'shared' and suites.tier_of('b16-e2e') == 'e2e'
    assert 'batch-16 CE classifier' in suites.table_title('shared-b16')
    # the two CE configs differ in batch, learning rate (halved) and nothing else
    ce, b16 = (_load(REPO / c).to_dict() for c in (suites.CLS_CE, suites.CLS_CE_B16))
    assert (ce['train_dataloader'].pop('batch_size'), b16['train_dataloader'].pop('batch_size'),
            ce['optim_wrapper']['optimizer'].pop('lr'), b16['optim_wrapper']['optimizer'].pop(
                'lr'), ce.pop('auto_scale_lr'), b16.pop('auto_scale_lr')) == (
        64, 16, 2e-3, 1e-3, {'base_batch_size': 64}, {'base_batch_size': 16})
    assert ce == b16
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
    control, iif = (_load(bench.config(r.config, r.retrain_from)) for r in rows[:2])
    assert control.model.backbone.frozen is iif.model.backbone.frozen is True
    assert control.train_dataloader.batch_size == iif.train_dataloader.batch_size == 64
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper'):
        assert control[key] == iif[key], key
    with pytest.raises(SystemExit):
        tool.parse_args(['--suite', 'b16', '--tasks', 'det'])


def _shapes(model, prefixes):
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith(prefixes)}


def test_shared_tier_on_the_half_width_detector_retrains_on_its_trunk(tmp_path, monkeypatch):
    """``--suite w32``: the CE detector on a half-width ResNet-18 trunk end to end next to the
    demo's, and every head-level detection row retrained on it; each retraining takes the
    half-width model's backbone and neck, so the frozen weights load with the shapes they were
    trained with (the row's own full-width trunk would not: mmengine only warns about a shape
    mismatch); the config differs from the demo CE in the trunk alone."""
    monkeypatch.chdir(REPO)
    rows, demo = suites.SUITES['shared-w32']['det'], _shared_rows('det')
    assert suites.TIERS['w32'] == ('w32-e2e', 'shared-w32')
    assert suites.SUITES['shared-w32']['cls'] == suites.SUITES['w32-e2e']['cls'] == []
    assert [r.config for r in suites.SUITES['w32-e2e']['det']] == [suites.DET_CE,
                                                                   suites.DET_CE_W32]
    assert [r.config for r in rows[1:]] == [r.config for r in demo[1:]]
    assert all(r.retrain_from == suites.DET_CE_W32 for r in rows)
    assert set(r.run_name for r in rows).isdisjoint(r.run_name for r in demo)
    assert 'half-width' in suites.table_title('shared-w32')
    ce, w32 = (_load(REPO / c).to_dict() for c in (suites.DET_CE, suites.DET_CE_W32))
    assert (ce['model']['backbone'].pop('base_channels', 64), w32['model']['backbone'].pop(
        'base_channels'), ce['model']['neck'].pop('in_channels'), w32['model']['neck'].pop(
            'in_channels')) == (64, 32, [64, 128, 256, 512], [32, 64, 128, 256])
    assert ce == w32
    trunk = ('backbone.', 'neck.')
    trained = _shapes(build_model(_load(REPO / suites.DET_CE_W32)), trunk)
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
    for row in (rows[1], demo[1]):  # IIF on the half-width model; on the demo's
        cfg = _load(bench.config(row.config, row.retrain_from))
        assert cfg.model.type == blt.DET_RETRAIN_TYPE
        shapes = _shapes(build_model(cfg), trunk)
        assert (shapes == trained) is (row is rows[1]), row.run_name
    with pytest.raises(SystemExit):
        tool.parse_args(['--suite', 'w32', '--tasks', 'cls'])


def test_quick_tier_on_the_half_width_detector_changes_only_the_detection_base():
    """``--suite quick-w32``: the quick tier's rows, classification's as they are, detection's
    on the half-width CE detector (its CE end to end, its quick head-level rows retrained on
    it)."""
    assert suites.TIERS['quick-w32'] == ('quick-e2e-w32', 'quick-shared-w32')
    for tier, quick in zip(suites.TIERS['quick-w32'], suites.TIERS['quick']):
        assert suites.SUITES[tier]['cls'] == suites.SUITES[quick]['cls']
        assert suites.tier_of(tier) == suites.tier_of(quick)
        assert 'half-width' in suites.table_title(tier)
    assert [r.config for r in suites.SUITES['quick-e2e-w32']['det']] == [suites.DET_CE_W32]
    shared, demo = (suites.SUITES[t]['det'] for t in ('quick-shared-w32', 'quick-shared'))
    assert shared[0].config == suites.DET_CE_W32  # the control retrains the base's own head
    assert [r.config for r in shared[1:]] == [r.config for r in demo[1:]]
    assert all(r.retrain_from == suites.DET_CE_W32 and r.quick for r in shared)


def test_head_only_takes_the_trunk_of_the_model_it_retrains():
    """``runner.head_only(..., retrained)``: the trunk (classification: backbone; detection:
    backbone and neck) is the retrained model's, frozen; the classifier stays the row's."""
    row = {'model': {'type': 'ImageClassifier', 'head': {'type': 'IIFHead'},
                     'backbone': {'type': 'SmallConvNet', 'width': 64}},
           'train_cfg': {'max_epochs': 30}}
    blt.head_only(row, 'cls', 'row.py', {'backbone': {'type': 'SmallConvNet', 'width': 32},
                                         'head': {'type': 'LinearClsHead'}})
    assert row['model']['backbone'] == {'type': 'SmallConvNet', 'width': 32, 'frozen': True}
    assert row['model']['head'] == {'type': 'IIFHead'}


@pytest.mark.parametrize('row', _shared_rows('cls'), ids=lambda r: r.run_name)
def test_classification_overlay_freezes_the_backbone_and_trains_the_head(row, tmp_path,
                                                                         monkeypatch):
    """The merged overlay: demo SmallConvNet frozen (no gradient, BN statistics kept), 10
    epochs with the scheduler inside them; the head (and an OLTR neck) still trains."""
    monkeypatch.chdir(REPO)
    bench = blt.Bench(str(tmp_path / 'seed_1'), 'demo', seed=1)
    path = bench.config(row.config, row.retrain_from)
    assert path.endswith(row.run_name + '.py')
    cfg = _load(path)
    assert cfg.model.backbone.frozen is True and cfg.randomness.seed == 1
    assert cfg.train_cfg.max_epochs == blt.RETRAIN_EPOCHS['cls'] == 10
    for sch in cfg.param_scheduler if isinstance(cfg.param_scheduler, list) else \
            [cfg.param_scheduler]:
        if sch.get('by_epoch', True):
            assert sch.get('end', 0) <= 10 and sch.get('T_max', 0) <= 10
    model = build_model(cfg)
    model.train()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith('backbone.')}
    assert not any(m.training for m in model.backbone.modules())
    assert any(p.requires_grad for p in model.head.parameters())


@pytest.mark.parametrize('row', _shared_rows('det'), ids=lambda r: r.run_name)
def test_detection_overlay_trains_only_the_box_head(row, tmp_path, monkeypatch):
    """Built through mmengine's own optimizer constructor: a BoxHeadRetrainDetector whose only
    parameters with gradients are roi_head.bbox_head's, each at the config's lr (or its own
    lr_mult); the trunk in eval mode; 2 epochs, 100 detections per test image."""
    from mmengine.optim import build_optim_wrapper
    monkeypatch.chdir(REPO)
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
    cfg = _load(bench.config(row.config, row.retrain_from))
    assert cfg.model.type == blt.DET_RETRAIN_TYPE == 'BoxHeadRetrainDetector'
    assert cfg.train_cfg.max_epochs == blt.RETRAIN_EPOCHS['det'] == 2
    assert cfg.model.test_cfg.rcnn.max_per_img == 100  # the demo config's own
    predictor = cfg.model.roi_head.bbox_head.get('cls_predictor_cfg') or {}
    if predictor.get('type') == 'LGRPredictor':  # stage-1 anchors: a random stand-in
        from ltr_plugins.benchmarking.gpu_check import _anchors
        predictor.anchors = _anchors(str(tmp_path), 12, row.config, 256)
    model = build_model(cfg)
    model.train()
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    lr = {id(p): g['lr'] for g in groups for p in g['params']}
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {n for n, _ in model.named_parameters()
                       if n.startswith('roi_head.bbox_head.')}
    assert all(lr[id(p)] > 0 for n, p in model.named_parameters() if n in trained)
    assert not any(m.training for m in model.backbone.modules())
    assert not any(m.training for m in model.roi_head.mask_head.modules())
    # one training step of the row's own box head (its loss, sampling and label protocol)
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(0)
    data = model.data_preprocessor(demo_mm_inputs(
        2, image_shapes=[(3, 128, 128)] * 2, num_items=[3, 2], num_classes=12, with_mask=True),
        True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert any(k.startswith('loss_cls') for k in losses)
    assert not any('mask' in k or 'rpn' in k for k in losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert {n for n, p in model.named_parameters() if p.grad is not None} <= trained


def test_head_only_names_the_config_it_cannot_freeze():
    d = {'model': {'backbone': {'type': 'ResNet'}}, 'train_cfg': {'max_epochs': 3}}
    with pytest.raises(ValueError, match='my_cls.py.*SmallConvNet.*ResNet'):
        blt.head_only(d, 'cls', 'my_cls.py')
    d = {'model': {'type': 'RetinaNet', 'backbone': {'type': 'ResNet'}},
         'train_cfg': {'max_epochs': 3}}
    with pytest.raises(ValueError, match='my_det.py.*two-stage.*RetinaNet'):
        blt.head_only(d, 'det', 'my_det.py')


def _finished(out, seed, row, metrics):
    wd = out / f'seed_{seed}' / row.run_name
    wd.mkdir(parents=True)
    (wd / 'test_metrics.json').write_text(json.dumps(metrics))


def test_quick_suite_writes_both_tiers_and_compares_shared_rows_with_the_control(tmp_path):
    """--suite quick --reuse-only: the end-to-end table compares with CE, the shared table
    with the retrained-CE control (its own work dirs, not CE's), each with its own csv."""
    e2e, shared = suites.SUITES['quick-e2e']['cls'], suites.SUITES['quick-shared']['cls']
    for seed in (0, 1, 2):
        _finished(tmp_path, seed, e2e[0], {'accuracy/few': 10.0 + seed, 'minutes': 2.0})
        _finished(tmp_path, seed, shared[0], {'accuracy/few': 20.0 + seed, 'minutes': 1.0})
        _finished(tmp_path, seed, shared[1], {'accuracy/few': 25.0 + 2 * seed, 'minutes': 1.0})
    md = tool.main(['--suite', 'quick', '--tasks', 'cls', '--reuse-only', '--out',
                    str(tmp_path)])
    lines = {}
    for line in md.splitlines():
        if line.startswith('| '):
            lines.setdefault(line.split(' | ')[0].lstrip('| '), []).append(line.split(' | '))
    ce, = lines['CE (linear)']
    control, = lines[shared[0].name]
    head, = lines[shared[1].name]
    assert ce[5] == '11.0 ± 1.0' and control[5] == '21.0 ± 1.0'
    assert control[6:8] == ['—', 'baseline']
    assert head[6].startswith('+6.0 [') and head[7] == f'above {shared[0].name}'
    assert 'end-to-end tier' in md and 'shared-backbone tier' in md
    assert 'quick-e2e: 6, quick-shared: 6' in md
    assert (tmp_path / 'quick-shared_cls.csv').read_text().count('\n') == 1 + 2 * 3
    assert (tmp_path / 'quick.md').is_file()


def test_report_page_has_command_machine_tables_and_plots(tmp_path, monkeypatch):
    """--report writes one self-contained page: the command (with --report), date, machine,
    commit, seeds, wall time per table, the tables as in <out>/<suite>.md and every per-class
    plot copied next to the page."""
    from ltr_plugins.benchmarking import report
    e2e = suites.SUITES['quick-e2e']['cls']
    for seed in (0, 1):  # seed 1 made beside another run (--jobs 2)
        _finished(tmp_path / 'out', seed, e2e[0], {'accuracy/few': 10.0 + seed, 'minutes': 2.5,
                                                   'jobs': 1 + seed})
    monkeypatch.setattr(report, 'plot', lambda rows, path: open(path, 'wb').write(b'png') > 0)
    counted = []
    monkeypatch.setattr(tool, 'bench_flops', lambda bench, row: counted.append(row.name) or
                        {'train_gflop': 1000.0, 'test_gflop': 500.0})
    page = tmp_path / 'docs' / 'quick_demo.md'
    md = tool.main(['--suite', 'quick', '--tasks', 'cls', '--reuse-only', '--seeds', '0', '1',
                    '--out', str(tmp_path / 'out'), '--report', str(page)])
    text = page.read_text()
    assert text.startswith('# Benchmark: `--suite quick` on the embedded demo data')
    assert f'--seeds 0 1 --report {page}' in text
    for fact in ('date', 'machine', 'commit', 'seeds', 'wall time'):
        assert f'- **{fact}**: ' in text, fact
    assert 'logical CPUs' in text and 'torch ' in text
    assert '5.0 min of runs (per table: quick-e2e: 5.0, quick-shared: 0.0)' in text
    assert 'runs were made up to 2 at a time (`--jobs`)' in text
    for table in [block for block in md.split('\n\n') if block.startswith('| method')]:
        assert table in text
    assert (page.parent / 'quick_demo_1.png').read_bytes() == b'png'
    assert '![per-class, classification — end-to-end tier' in text
    assert (page.parent / 'quick_demo_2.png').is_file() and '## How to read' in text
    # compute: only rows with runs are counted, once per row (not per seed)
    assert counted == [e2e[0].name]
    assert '- **compute**: quick-e2e: 3 TFLOP (' in text
    assert f'| {e2e[0].name} | 1,000 | 500 | 2 | 3.0 |' in text


def test_bench_flops_counts_own_run_and_caches(tmp_path, monkeypatch, demo_data):
    """A post-hoc row only tests (no training FLOPs); a shared-tier run trains a third of the
    epochs with no backbone gradient, so it costs less than a third of the end-to-end run;
    counts are cached per run name (not recounted); a run made in a group counts its share of
    the trunk's passes."""
    monkeypatch.chdir(REPO)
    bench = blt.Bench(str(tmp_path / 'seed_0'), 'demo', seed=0)
    ce, posthoc = suites.SUITES['quick-e2e']['cls'][0], suites.SUITES['quick-e2e']['cls'][-1]
    control = suites.SUITES['quick-shared']['cls'][0]
    assert posthoc.checkpoint_from == ce.config
    e2e, post, shared = bench.flops(ce), bench.flops(posthoc), bench.flops(control)
    assert post['train_gflop'] == 0.0 and post['test_gflop'] == pytest.approx(e2e['test_gflop'])
    assert 0 < shared['train_gflop'] < e2e['train_gflop'] / 3
    assert shared['test_gflop'] == pytest.approx(e2e['test_gflop'])
    import ltr_plugins.benchmarking.flops as flops
    monkeypatch.setattr(flops, 'count_run_flops', lambda *a, **k: 1 / 0)
    assert bench.flops(control) == shared  # cached, and a run alone: its whole count
    cache = tmp_path / 'seed_0' / 'flops' / f'{control.run_name}.json'
    counted = json.loads(cache.read_text())
    assert counted['config'] == bench.made_from(control)['config']
    cache.write_text(json.dumps({**counted, 'config': 'an edited config'}))
    with pytest.raises(ZeroDivisionError):  # counted again
        bench.flops(control)
    cache.write_text(json.dumps(counted))
    assert 0 < counted['train_trunk_gflop'] < counted['train_gflop']  # the frozen backbone
    assert 0 < counted['test_trunk_gflop'] < counted['test_gflop']
    # trained by a group of 4 and tested in a pass of 2: a 4th / a half of the trunk's part
    monkeypatch.setattr(bench, 'finished', lambda *a, **k: {'group': list('abcd'),
                                                            'test_group': list('ab')})
    assert bench.flops(control) == pytest.approx({
        'train_gflop': counted['train_gflop'] - counted['train_trunk_gflop'] * 3 / 4,
        'test_gflop': counted['test_gflop'] - counted['test_trunk_gflop'] / 2})
