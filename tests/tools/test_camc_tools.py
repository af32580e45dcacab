"""CAMC end to end: tools/train.py + tools/test.py + tools/analysis/show_cam.py on the tiny
preset, for classification (CAMCClsHead) and detection (CAMC + IIF on Mask R-CNN RoIs); the
class prototypes are checked in the real checkpoints."""
import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from ltr_testing import REPO, build_model, run_tool, scalars
from PIL import Image

CLS_CFG = 'tests/configs/convnet_camc_tiny.py'
DET_CFG = 'tests/configs/mask_rcnn_camc_iif_tiny.py'


def _build(cfg_path, ckpt=None):
    from ltr_plugins.compat import apply_tool_fixes
    apply_tool_fixes()  # as the tools: load_checkpoint reads mmengine checkpoints safely
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(str(REPO / cfg_path))
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = build_model(cfg)
    if ckpt is not None:
        load_checkpoint(model, str(ckpt), map_location='cpu', logger='silent')
    return model.eval()


def _show_cam(*args):
    """tools/analysis/show_cam.py main() in this process (mm* are imported already)."""
    from ltr_plugins.tools.show_cam import main
    return main([str(a) for a in args])


def _pngs(out_dir: Path, num: int):
    files = sorted(out_dir.iterdir())
    assert [f.suffix for f in files] == ['.png'] * num, files  # no temp files left behind
    for f in files:
        with Image.open(f) as im:
            assert im.format == 'PNG' and im.width > 2 * im.height  # three panels side by side


def test_camc_classification_train_test_show_cam(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', tmp_path,
              '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=5'])
    rows = [r for r in scalars(tmp_path) if 'loss' in r]
    assert all('loss_camc_aux' in r for r in rows)
    ckpt = tmp_path / 'epoch_1.pth'
    state = torch.load(ckpt, weights_only=False)['state_dict']
    # prototypes saw every training image once: counts = per-class image counts of the list
    ann = (tiny_data / 'classification' / 'ImageNet_LT_train.txt').read_text().split('\n')
    per_class = Counter(int(line.split()[1]) for line in ann if line.strip())
    expected = torch.tensor([per_class[c] for c in range(len(per_class))])
    assert torch.equal(state['head.camc.prototype_counts'], expected)
    assert torch.all(state['head.camc.prototypes'].norm(dim=1) > 0.1)

    # restored through mmengine's checkpoint loader; inference without labels is
    # deterministic, leaves the buffers alone and depends on the restored prototypes
    model = _build(CLS_CFG, ckpt)
    for k in ('prototypes', 'prototype_counts'):
        assert torch.equal(getattr(model.head.camc, k), state[f'head.camc.{k}'])
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model(x, mode='tensor'), model(x, mode='tensor')
        assert torch.equal(a, b)
        assert torch.equal(model.head.camc.prototype_counts, expected)
        model.head.camc.prototype_counts.zero_()  # "no prototypes": A is the CAM alone
        assert not torch.allclose(model(x, mode='tensor'), a)

    out = run_tool(['tools/test.py', CLS_CFG, ckpt, '--work-dir', tmp_path,
                    '--metrics-out', tmp_path / 'm.json']).stdout
    m = json.loads((tmp_path / 'm.json').read_text())
    assert 'accuracy/few' in out
    groups = [m[f'accuracy/{g}'] for g in ('many', 'medium', 'few')]
    assert m['accuracy/top1'] == pytest.approx(sum(groups) / 3, abs=0.01)  # balanced test

    assert len(_show_cam(CLS_CFG, ckpt, '--out', tmp_path / 'cams', '--num', 3)) == 3
    _pngs(tmp_path / 'cams', 3)


def test_camc_iif_detection_train_test_show_cam(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    run_tool(['tools/train.py', DET_CFG, '--work-dir', tmp_path, '--cfg-options',
              'train_dataloader.dataset.dataset.indices=40', 'train_cfg.val_begin=5'])
    rows = [r for r in scalars(tmp_path) if 'loss' in r]
    assert rows and all('loss_camc_aux' in r and 'loss_cls' in r for r in rows)
    ckpt = tmp_path / 'epoch_1.pth'
    state = torch.load(ckpt, weights_only=False)['state_dict']
    counts = state['roi_head.bbox_head.camc.prototype_counts']
    assert counts.shape == (7, )                    # 6 classes + background, background last
    assert int(counts.sum()) == 40 * 64             # 40 images x 64 sampled RoIs
    assert counts[-1] > counts[:-1].sum()           # mostly background RoIs
    assert state['roi_head.bbox_head.iif.weights'][-1] == 1.0
    model = _build(DET_CFG, ckpt)
    assert torch.equal(model.roi_head.bbox_head.camc.prototypes,
                       state['roi_head.bbox_head.camc.prototypes'])

    out = run_tool(['tools/test.py', DET_CFG, ckpt, '--work-dir', tmp_path]).stdout
    header = next(ln for ln in out.splitlines() if ln.startswith('| type'))
    assert all(f' {c} ' in header for c in ('APr', 'APc', 'APf'))

    assert len(_show_cam(DET_CFG, ckpt, '--out', tmp_path / 'cams', '--num', 2,
                         '--target', 'gt')) == 2
    _pngs(tmp_path / 'cams', 2)


def test_show_cam_help_and_clear_errors(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit):
        _show_cam('--help')
    assert 'calibration' in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match='does not exist'):
        _show_cam(CLS_CFG, tmp_path / 'missing.pth', '--out', tmp_path / 'out')
    empty = tmp_path / 'empty.pth'
    torch.save({'state_dict': {}}, empty)
    with pytest.raises(TypeError, match='not a CAMC head'):
        _show_cam('tests/configs/convnet_tiny.py', empty, '--out', tmp_path / 'out')
    assert not (tmp_path / 'out').exists()
