"""OLTR in mmpretrain: sampler structure, centroid-init hook (class means, resume), hallucinator
init, centroid optimiser settings, open-set metric, and stage 1 -> stage 2 -> test through the
real tools on the tiny preset."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ltr_testing import REPO, run_launch, run_tool

STAGE1 = 'tests/configs/convnet_tiny.py'
STAGE2 = 'tests/configs/convnet_oltr_tiny.py'


@pytest.fixture(scope='module')
def stage1_ckpt(tiny_data, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp('oltr_stage1')
    run_tool(['tools/train.py', STAGE1, '--work-dir', work,
              '--cfg-options', 'train_cfg.max_epochs=1'])
    return work / 'epoch_1.pth'


@pytest.fixture(scope='module')
def stage2_run(stage1_ckpt, tmp_path_factory):
    """Stage 2 for 2 epochs (checkpoint each epoch), loading the stage-1 checkpoint."""
    work = tmp_path_factory.mktemp('oltr_stage2')
    proc = run_tool(['tools/train.py', STAGE2, '--work-dir', work,
                     '--cfg-options', f'load_from={stage1_ckpt}'])
    return work, proc.stdout + proc.stderr


def _build_runner(cfg_path, work_dir, **options):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from ltr_plugins.compat import apply_tool_fixes
    apply_tool_fixes()  # as tools/train.py: load_or_resume reads mmengine checkpoints safely
    cfg = Config.fromfile(str(REPO / cfg_path))
    cfg.merge_from_dict(options)
    cfg.work_dir = str(work_dir)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
    return Runner.from_cfg(cfg)


def _state(ckpt):
    from ltr_plugins.compat import safe_torch_load
    return safe_torch_load(str(ckpt), map_location='cpu')['state_dict']


def test_class_aware_sampler_structure(tiny_data):
    """mmdet's ClassAwareSampler on the mmpretrain dataset: runs of 4 images of one class,
    every class visited once per cycle."""
    from mmdet.datasets.samplers import ClassAwareSampler
    from mmpretrain.datasets import CustomDataset
    root = tiny_data / 'classification'
    ds = CustomDataset(data_root=str(root), ann_file='ImageNet_LT_train.txt',
                       classes=str(root / 'classes.txt'), pipeline=[], lazy_init=False)
    sampler = ClassAwareSampler(ds, seed=0, num_sample_class=4)
    idx = list(sampler)
    assert len(idx) == len(ds)
    labels = np.array([ds.get_cat_ids(i)[0] for i in idx])
    runs = labels[:len(labels) // 4 * 4].reshape(-1, 4)
    assert (runs == runs[:, :1]).all()  # k = 4 images of one class per visit
    classes = runs[:, 0]
    for c in range(len(classes) // 6):  # 6 classes: each cycle is a permutation
        assert sorted(classes[6 * c:6 * c + 6]) == list(range(6))
    # balanced: the rarest class (4 images) is drawn as often as the most frequent one
    counts = np.bincount(labels, minlength=6)
    assert counts.max() - counts.min() <= 4


def test_hook_sets_class_means_and_hallucinator_from_stage1(stage1_ckpt, tmp_path):
    """In-process: after load_from, the hook's centroids equal independently computed class
    means (one image at a time, test transforms, eval mode); the hallucinator equals the
    stage-1 classifier; the centroids get their own optimiser settings."""
    from mmengine.dataset import Compose

    from ltr_plugins.hooks import OLTRCentroidInitHook
    runner = _build_runner(STAGE2, tmp_path, load_from=str(stage1_ckpt))
    runner._init_model_weights()
    runner.load_or_resume()
    model = runner.model
    state = _state(stage1_ckpt)
    hal = model.head.meta_embedding.hallucinator
    assert torch.equal(hal.weight.detach(), state['head.fc.weight'])
    assert torch.equal(hal.bias.detach(), state['head.fc.bias'])
    assert not model.head.loss_centroid.initialized

    OLTRCentroidInitHook(batch_size=7).before_train(runner)  # 7: a ragged last batch
    assert model.head.loss_centroid.initialized

    root = REPO / 'data/tiny/classification'
    pipeline = Compose([dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    feats = {}
    model.eval()
    with torch.no_grad():
        for line in (root / 'ImageNet_LT_train.txt').read_text().splitlines():
            rel, label = line.split()
            data = pipeline(dict(img_path=str(root / rel), gt_label=int(label)))
            data = model.data_preprocessor(dict(inputs=[data['inputs']],
                                                data_samples=[data['data_samples']]), False)
            v = model.extract_feat(data['inputs'])[-1][0].double().numpy()
            feats.setdefault(int(label), []).append(v)
    means = np.stack([np.mean(feats[c], axis=0) for c in range(6)])
    got = model.head.loss_centroid.centroids.detach().double().numpy()
    assert np.allclose(got, means, atol=1e-5)

    # own optimiser settings for the memory: lr 0.1 x 0.1, wd 5e-4, SGD momentum 0.9
    optim = runner.build_optim_wrapper(runner.cfg.optim_wrapper).optimizer
    centroids = model.head.loss_centroid.centroids
    group = next(g for g in optim.param_groups if any(p is centroids for p in g['params']))
    assert group['lr'] == pytest.approx(0.01) and group['weight_decay'] == pytest.approx(5e-4)
    assert group['momentum'] == 0.9
    head_group = next(g for g in optim.param_groups
                      if any(p is hal.weight for p in g['params']))
    assert head_group['lr'] == pytest.approx(0.1)


def test_ce_sends_no_gradient_to_centroids(tmp_path):
    from mmpretrain.structures import DataSample
    runner = _build_runner(STAGE2, tmp_path)
    head = runner.model.head
    feats = (torch.randn(8, 64).relu(), )
    samples = [DataSample().set_gt_label(i % 6) for i in range(8)]
    losses = head.loss(feats, samples)
    losses['loss'].backward(retain_graph=True)  # CE alone: the classifier reads a detached copy
    assert head.loss_centroid.centroids.grad is None
    assert head.meta_embedding.hallucinator.weight.grad.abs().max() > 0
    losses['loss_centroid'].backward()
    assert head.loss_centroid.centroids.grad.abs().max() > 0


def test_hallucinator_shape_mismatch_is_a_clear_error(tmp_path):
    runner = _build_runner(STAGE2, tmp_path)
    bad = {'fc.weight': torch.zeros(5, 64), 'fc.bias': torch.zeros(5)}
    with pytest.raises(ValueError, match='cannot initialise the hallucinator'):
        runner.model.head.load_state_dict(bad, strict=False)


def test_open_set_metric_on_hand_made_predictions(tiny_data):
    from ltr_plugins.core.evaluation import open_set_f_measure
    from ltr_plugins.mmpretrain import OpenSetLongTailAccuracy
    metric = OpenSetLongTailAccuracy(
        threshold=[0.3, 0.6], train_ann_file=str(tiny_data / 'classification' /
                                                 'ImageNet_LT_train.txt'))
    rows = [  # (probabilities, gt)
        ([0.7, 0.1, 0.1, 0.05, 0.05, 0.0], 0),  # correct, confident
        ([0.1, 0.5, 0.1, 0.1, 0.1, 0.1], 1),  # correct, rejected at 0.6
        ([0.2, 0.1, 0.4, 0.1, 0.1, 0.1], 3),  # wrong
        ([0.1, 0.1, 0.1, 0.1, 0.1, 0.5], -1),  # open, predicted known at 0.3
        ([0.2, 0.2, 0.2, 0.2, 0.1, 0.1], -1),  # open, rejected
    ]
    metric.process(None, [dict(pred_score=torch.tensor(p), gt_label=torch.tensor([g]))
                          for p, g in rows])
    out = metric.compute_metrics(metric.results)
    assert out['top1'] == pytest.approx(100 * 2 / 3)
    gt = np.array([g for _, g in rows])
    for t, suffix in ((0.3, ''), (0.6, '@0.6')):
        pred = np.array([np.argmax(p) if max(p) >= t else -1 for p, _ in rows])
        assert out['f_measure' + suffix] == pytest.approx(open_set_f_measure(pred, gt)
                                                          ['f_measure'])
    # t = 0.3: TP 2, FP 1, FN 1 -> F = 2/3; t = 0.6: TP 1, FP 2, FN 0 -> P 1/3, R 1, F 1/2
    assert out['f_measure'] == pytest.approx(2 / 3)
    assert out['f_measure@0.6'] == pytest.approx(0.5)
    assert out['open_rejection_rate'] == pytest.approx(50.0)
    assert out['open_rejection_rate@0.6'] == pytest.approx(100.0)
    assert out['known_rejection_rate@0.6'] == pytest.approx(100 * 2 / 3)


def test_stage2_train_test_and_resume_keeps_centroids(stage1_ckpt, stage2_run, tmp_path):
    work, log = stage2_run
    n_train = len((REPO / 'data/tiny/classification/ImageNet_LT_train.txt').read_text()
                  .splitlines())
    assert f'OLTR centroids set to the class means of {n_train} training samples' in log
    # stage 2 moved the memory (centroid loss, own optimiser) and saved it
    s1, s2 = _state(work / 'epoch_1.pth'), _state(work / 'epoch_2.pth')
    assert bool(s2['head.loss_centroid.initialized'])
    assert not torch.equal(s1['head.loss_centroid.centroids'],
                           s2['head.loss_centroid.centroids'])

    # test through tools/test.py: closed-set and open-set metrics
    metrics_file = tmp_path / 'metrics.json'
    run_tool(['tools/test.py', STAGE2, work / 'epoch_2.pth', '--work-dir', tmp_path / 'test',
              '--metrics-out', metrics_file])
    metrics = json.loads(metrics_file.read_text())
    for key in ('top1', 'many', 'medium', 'few', 'f_measure', 'macro_f1',
                'open_rejection_rate', 'known_rejection_rate'):
        assert f'open_set/{key}' in metrics
    assert 0 <= metrics['open_set/f_measure'] <= 1

    # resume from epoch 1 (mmengine resumes before the before_train hooks): the hook must keep
    # the restored centroids exactly
    from ltr_plugins.hooks import OLTRCentroidInitHook
    runner = _build_runner(STAGE2, tmp_path / 'resumed', resume=True,
                           load_from=str(work / 'epoch_1.pth'))
    runner._init_model_weights()
    runner.load_or_resume()
    OLTRCentroidInitHook().before_train(runner)
    assert torch.equal(runner.model.head.loss_centroid.centroids.detach(),
                       s1['head.loss_centroid.centroids'])
    # ... while force=True recomputes them (class means of the epoch-1 model differ)
    OLTRCentroidInitHook(force=True).before_train(runner)
    assert not torch.allclose(runner.model.head.loss_centroid.centroids.detach(),
                              s1['head.loss_centroid.centroids'], atol=1e-3)


@pytest.mark.parametrize('cfg_path, env, n_test', [
    ('configs/oltr/resnet10_oltr-stage2_1xb128-60e_imagenet-lt.py', 'IMAGENET_LT_ROOT', 30 + 50),
])
def test_real_oltr_config_on_embedded_data(cfg_path, env, n_test, tiny_data, monkeypatch):
    """The ImageNet-LT stage-2 config on the embedded data (same layout): closed test + open
    split (label -1), and ResNet-10's 7x7 map fits the modulated attention at 224 px."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS, METRICS, MODELS
    monkeypatch.setenv(env, str(tiny_data / 'classification') + '/')
    cfg = Config.fromfile(str(REPO / cfg_path))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        test = DATASETS.build(cfg.test_dataloader.dataset)
        metric = METRICS.build(cfg.test_evaluator)
        model = MODELS.build(cfg.model)
    assert len(test) == n_test
    labels = [test.get_data_info(i)['gt_label'] for i in range(len(test))]
    assert labels.count(-1) == 50 and max(labels) == 5
    assert type(metric).__name__ == 'OpenSetLongTailAccuracy'
    assert metric.rejection_thresholds == [0.1]
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(2, 3, 224, 224))
    assert feats[-1].shape == (2, 512)


def test_centroid_init_under_two_cpu_ddp_ranks(stage1_ckpt, tmp_path):
    """tools/dist_train.sh with 2 gloo ranks: disjoint shards (no round-up padding), per-class
    sums and counts all-reduced, so the means cover each training image exactly once."""
    import os
    import sys
    proc = run_launch(['bash', 'tools/dist_train.sh', STAGE2, '2', '--work-dir', tmp_path,
                       '--cfg-options', 'train_cfg.max_epochs=1', f'load_from={stage1_ckpt}'],
                      env={**os.environ, 'PYTHON': sys.executable})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    n_train = len((REPO / 'data/tiny/classification/ImageNet_LT_train.txt').read_text()
                  .splitlines())
    assert f'class means of {n_train} training samples (summed over ranks)' in log
    assert (tmp_path / 'epoch_1.pth').is_file()
