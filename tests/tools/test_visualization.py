"""Logging and visualisation through mmengine: ``tools/train.py --tensorboard`` writes the
training scalars as TensorBoard events, ``tools/test.py --show-dir`` draws one prediction image
per test image (mmdet's DetVisualizationHook / mmpretrain's VisualizationHook)."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ltr_testing import REPO, TINY_ROOT, run_tool
from PIL import Image

DET_CFG = 'tests/configs/mask_rcnn_tiny.py'
CLS_CFG = 'tests/configs/convnet_tiny.py'
HAVE_TENSORBOARD = importlib.util.find_spec('tensorboard') is not None


@pytest.fixture(scope='module')
def det_run(tiny_data, tmp_path_factory) -> Path:
    """One short epoch of the tiny Mask R-CNN, logged to TensorBoard when it is installed."""
    work = tmp_path_factory.mktemp('det_vis')
    run_tool(['tools/train.py', DET_CFG, '--work-dir', work,
              *(['--tensorboard'] if HAVE_TENSORBOARD else [])])
    return work


def test_tensorboard_events_hold_the_logged_scalars(det_run):
    if not HAVE_TENSORBOARD:
        pytest.skip('tensorboard is not installed (pip install tensorboard; '
                    'requirements/runtime.txt lists it)')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = sorted(det_run.glob('*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1, events
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert 'loss' in acc.Tags()['scalars'] and 'lr' in acc.Tags()['scalars']
    # the same values as the LocalVisBackend's scalars.json, at the same steps
    rows = [json.loads(line) for line in (events[0].parent / 'scalars.json').read_text()
            .splitlines()]
    local = {r['step']: r['loss'] for r in rows if 'loss' in r}
    board = {e.step: e.value for e in acc.Scalars('loss')}
    assert len(local) >= 2 and board.keys() == local.keys()
    for step, value in local.items():
        assert board[step] == pytest.approx(value, rel=1e-5)
    # validation metrics go to TensorBoard too
    assert any(tag.startswith('lvis/') for tag in acc.Tags()['scalars'])


def test_tensorboard_flag_without_tensorboard_is_a_clear_error(monkeypatch):
    from mmengine.config import Config

    from ltr_plugins.launch import enable_tensorboard
    cfg = Config(dict(visualizer=dict(type='Visualizer', vis_backends=[
        dict(type='LocalVisBackend')])))
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)  # import fails
    with pytest.raises(ImportError, match='pip install tensorboard'):
        enable_tensorboard(cfg)


def test_tensorboard_flag_adds_the_backend_once():
    if not HAVE_TENSORBOARD:
        pytest.skip('tensorboard is not installed')
    from mmengine.config import Config

    from ltr_plugins.launch import enable_tensorboard
    cfg = Config.fromfile(str(REPO / DET_CFG))
    enable_tensorboard(cfg)
    enable_tensorboard(cfg)
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types == ['LocalVisBackend', 'TensorboardVisBackend']


def test_detection_show_dir_writes_one_image_per_val_image(det_run, tmp_path):
    show = tmp_path / 'show'  # absolute: used as is (a relative one goes under work_dir/ts/)
    run_tool(['tools/test.py', DET_CFG, det_run / 'epoch_1.pth', '--work-dir', tmp_path / 'w',
              '--show-dir', show, '--score-thr', '0.0'])
    val_root = TINY_ROOT / 'lvis_v1'
    images = json.loads((val_root / 'annotations' / 'lvis_v1_val.json').read_text())['images']
    expected = {Path(im['coco_url']).name: im for im in images}
    written = {p.name: p for p in show.iterdir()}
    assert written.keys() == expected.keys()  # one drawn image per val image, named after it
    changed = 0
    for name, path in written.items():
        drawn = np.asarray(Image.open(path).convert('RGB'), dtype=np.int16)
        h, w = expected[name]['height'], expected[name]['width']
        # the test pipeline loads annotations, so mmdet draws ground truth | predictions
        assert drawn.shape == (h, 2 * w, 3)
        source = np.asarray(Image.open(val_root / 'val2017' / name).convert('RGB'),
                            dtype=np.int16)
        assert np.abs(drawn[:, :w] - source).max() > 40  # ground-truth boxes / masks
        changed += int(np.abs(drawn[:, w:] - source).max() > 40)  # predictions painted
    assert changed >= len(written) // 2, f'predictions drawn on only {changed} images'


def test_classification_show_dir_writes_one_image_per_test_image(tiny_data, tmp_path):
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', tmp_path / 'w',
              '--cfg-options', 'train_cfg.max_epochs=1'])
    show = tmp_path / 'show'
    run_tool(['tools/test.py', CLS_CFG, tmp_path / 'w' / 'epoch_1.pth', '--work-dir',
              tmp_path / 'w', '--show-dir', show])
    test_list = (TINY_ROOT / 'classification' / 'ImageNet_LT_test.txt').read_text().split('\n')
    paths = [line.split()[0] for line in test_list if line.strip()]
    # mmpretrain's hook names each file after the image's base name (`<name>_0.png`); the
    # embedded data numbers images per class folder, so equal names share one file
    names = {Path(p).name for p in paths}
    written = sorted(p.name for p in show.iterdir())
    assert len(paths) == 30 and len(written) == len(names) >= 5
    assert {n[:-len('_0.png')] for n in written} == names
    for name in written:
        image = Image.open(show / name)
        assert image.format == 'PNG' and min(image.size) >= 32


def test_show_dir_needs_a_visualization_hook():
    from mmengine.config import Config

    from ltr_plugins.launch import enable_show_dir
    cfg = Config(dict(default_hooks=dict(logger=dict(type='LoggerHook'))))
    with pytest.raises(ValueError, match='default_hooks.visualization'):
        enable_show_dir(cfg, 'show')
    det = Config(dict(default_hooks=dict(visualization=dict(type='DetVisualizationHook'))))
    enable_show_dir(det, 'show', score_thr=0.05)
    assert det.default_hooks.visualization == dict(
        type='DetVisualizationHook', draw=True, test_out_dir='show', score_thr=0.05)
    cls = Config(dict(default_hooks=dict(visualization=dict(type='VisualizationHook',
                                                            enable=False))))
    enable_show_dir(cls, 'show')
    assert cls.default_hooks.visualization == dict(
        type='VisualizationHook', enable=True, out_dir='show', interval=1)
