"""End to end through tools/train.py and tools/test.py (and mmdet's / mmpretrain's own tools)."""
import csv
import re

import pytest
import torch
from ltr_testing import logged_losses, run_launch, run_tool, upstream_tool

DET_CFG = 'tests/configs/mask_rcnn_tiny.py'
CLS_CFG = 'tests/configs/convnet_tiny.py'


def _metric(stdout: str, name: str) -> float:
    m = re.search(rf'^{re.escape(name)}: ([0-9.]+)$', stdout, re.M)
    assert m, f'{name} not in test output:\n{stdout[-3000:]}'
    return float(m.group(1))


def test_classification_train_test(tiny_data, tmp_path):
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', tmp_path])
    losses = logged_losses(tmp_path)
    assert len(losses) >= 4 and sum(losses[-2:]) < sum(losses[:2]), losses
    out = run_tool(['tools/test.py', CLS_CFG, tmp_path / 'epoch_2.pth',
                    '--work-dir', tmp_path]).stdout
    top1 = _metric(out, 'accuracy/top1')
    groups = [_metric(out, f'accuracy/{g}') for g in ('many', 'medium', 'few')]
    assert 0 <= top1 <= 100 and all(0 <= g <= 100 for g in groups)
    # tiny test set is balanced (5 per class, 2 classes per split): top-1 is the split mean
    assert top1 == pytest.approx(sum(groups) / 3, abs=0.01)
    # per-class csv under <work_dir>/test, consistent with the printed split accuracies
    with open(tmp_path / 'test' / 'per_class_accuracy.csv') as f:
        rows = list(csv.DictReader(f))
    for g, acc in zip(('many', 'medium', 'few'), groups):
        mean = sum(float(r['accuracy']) for r in rows if r['split'] == g) / 2
        assert mean == pytest.approx(acc, abs=0.01)


def test_resume_continues_identically(tiny_data, tmp_path):
    """--resume from epoch 1 (a torch>=2.6 weights_only-incompatible mmengine checkpoint)
    reproduces the uninterrupted run's epoch-2 weights."""
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    # num_workers=1: the crop RNG lives in a worker seeded identically each epoch (in the main
    # process it would continue from the state the interrupted run never saved)
    opts = ['--cfg-options', 'randomness.deterministic=True', 'train_cfg.val_interval=10',
            'train_dataloader.num_workers=1']
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', full, *opts])
    resumed.mkdir()
    (resumed / 'epoch_1.pth').write_bytes((full / 'epoch_1.pth').read_bytes())
    out = run_tool(['tools/train.py', CLS_CFG, '--work-dir', resumed, '--resume',
                    resumed / 'epoch_1.pth', *opts])
    assert 'resumed epoch: 1' in out.stdout + out.stderr
    a = torch.load(full / 'epoch_2.pth', weights_only=False)['state_dict']
    b = torch.load(resumed / 'epoch_2.pth', weights_only=False)['state_dict']
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def test_detection_train_test(tiny_data, tmp_path):
    run_tool(['tools/train.py', DET_CFG, '--work-dir', tmp_path])
    losses = logged_losses(tmp_path)
    assert len(losses) >= 4 and sum(losses[-2:]) < sum(losses[:2]), losses
    out = run_tool(['tools/test.py', DET_CFG, tmp_path / 'epoch_1.pth',
                    '--work-dir', tmp_path]).stdout
    header = next(ln for ln in out.splitlines() if ln.startswith('| type'))
    for col in ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf'):
        assert f' {col} ' in header
    rows = {ln.split('|')[1].strip(): ln for ln in out.splitlines() if ln.startswith('| ')}
    assert 'segm' in rows and 'bbox' in rows
    # per-category AP csv under <work_dir>/test: its mean is the printed AP (3 decimals)
    for iou_type in ('segm', 'bbox'):
        with open(tmp_path / 'test' / f'per_category_ap_{iou_type}.csv') as f:
            aps = [float(r['AP']) for r in csv.DictReader(f) if r['AP']]
        printed = float(rows[iou_type].split('|')[2])
        assert sum(aps) / len(aps) == pytest.approx(printed, abs=6e-4)


@pytest.mark.parametrize('pkg, cfg, opts', [
    ('mmdet', DET_CFG, ['train_cfg.max_epochs=1']),
    ('mmpretrain', CLS_CFG, ['train_cfg.max_epochs=1']),
])
def test_custom_imports_from_upstream_train_tool(tiny_data, tmp_path, pkg, cfg, opts):
    """The upstream train.py knows nothing of ltr_plugins: the config's custom_imports alone
    registers LVISV1JsonDataset / LongTailAccuracy, and LongTailLVISMetric evaluates on numpy 2
    (its own evaluator: the import changes nothing in lvis)."""
    out = run_tool([upstream_tool(pkg, 'train.py'), cfg, '--work-dir', tmp_path,
                    '--cfg-options', *opts])
    assert (tmp_path / 'epoch_1.pth').is_file()
    log = out.stdout + out.stderr
    assert ('lvis/segm_AP' if pkg == 'mmdet' else 'accuracy/few') in log


def test_iif_post_hoc_and_decoupled(tiny_data, tmp_path):
    """A CE checkpoint is evaluated with IIF (post-hoc, no training), then only its classifier
    is retrained with IIF on a frozen backbone (decoupled)."""
    base = tmp_path / 'ce'
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', base,
              '--cfg-options', 'train_cfg.max_epochs=1'])
    iif = ['model.head.type=IIFLinearClsHead', 'model.head.iif.variant=smooth',
           'model.head.iif.stats=data/tiny/classification/ImageNet_LT_train.txt']
    out = run_tool(['tools/test.py', CLS_CFG, base / 'epoch_1.pth', '--work-dir', base,
                    '--cfg-options', *iif])
    assert 'head.iif.weights' in out.stdout + out.stderr  # reported as missing, set by config
    _metric(out.stdout, 'accuracy/top1')

    dec = tmp_path / 'decoupled'
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', dec, '--cfg-options', *iif,
              f'load_from={base / "epoch_1.pth"}', 'model.backbone.frozen=True',
              'train_cfg.max_epochs=1'])
    before = torch.load(base / 'epoch_1.pth', weights_only=False)['state_dict']
    after = torch.load(dec / 'epoch_1.pth', weights_only=False)['state_dict']
    for k, v in before.items():
        if k.startswith('backbone.'):
            torch.testing.assert_close(after[k], v, msg=k)  # weights and BN statistics
    assert not torch.equal(after['head.fc.weight'], before['head.fc.weight'])
    assert 'head.iif.weights' in after


def test_dist_train_two_cpu_processes(tiny_data, tmp_path):
    """tools/dist_train.sh: 2 gloo ranks on CPU, each iterating over half of the data."""
    import os
    import sys
    proc = run_launch(['bash', 'tools/dist_train.sh', CLS_CFG, '2', '--work-dir', tmp_path,
                       '--cfg-options', 'train_cfg.max_epochs=1'],
                      env={**os.environ, 'PYTHON': sys.executable})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert 'Epoch(train) [1][6/6]' in log  # 384 images / (2 ranks x batch 32)
    assert (tmp_path / 'epoch_1.pth').is_file()
