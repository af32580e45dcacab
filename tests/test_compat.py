"""The compat fixes: each test shows the breakage without the fix and the behaviour with it."""
import importlib
import json
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ltr_plugins  # noqa: F401
from ltr_plugins import compat


def _lvis_files(tmp_path):
    images = [{'id': i, 'width': 64, 'height': 64, 'coco_url': f'x/{i}.jpg',
               'neg_category_ids': [2], 'not_exhaustive_category_ids': []} for i in (1, 2)]
    anns, dets = [], []
    for i, (img, x) in enumerate([(1, 4), (1, 30), (2, 10)], 1):
        box = [x, x, 20.0, 16.0]
        anns.append({'id': i, 'image_id': img, 'category_id': 1, 'bbox': box,
                     'area': 320.0, 'segmentation': [[x, x, x + 20, x, x + 20, x + 16, x,
                                                      x + 16]]})
        dets.append({'image_id': img, 'category_id': 1, 'bbox': box, 'score': 0.9})
    cats = [{'id': c, 'name': n, 'frequency': f, 'image_count': 2, 'instance_count': 3}
            for c, n, f in ((1, 'one', 'f'), (2, 'two', 'r'))]
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps({'images': images, 'annotations': anns, 'categories': cats}))
    return gt, dets


def _lvis_ap(gt, dets):
    from lvis import LVIS, LVISEval, LVISResults
    lvis_gt = LVIS(str(gt))
    ev = LVISEval(lvis_gt, LVISResults(lvis_gt, dets), 'bbox')
    ev.run()
    return ev.get_results()['AP']


def test_lvis_eval_on_numpy2(tmp_path):
    import lvis.eval
    gt, dets = _lvis_files(tmp_path)
    assert not hasattr(np, 'float'), 'numpy still has np.float: the fix is not needed here'
    importlib.reload(lvis.eval)  # the module as shipped, without the fix
    try:
        with pytest.raises(AttributeError, match='float'):
            _lvis_ap(gt, dets)
    finally:
        assert compat.patch_lvis_numpy()
    assert _lvis_ap(gt, dets) == pytest.approx(1.0)
    assert not hasattr(np, 'float')  # global numpy untouched


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


class _EvilGetattr:
    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def _runner_like_checkpoint(path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('ltr_compat_test')
    for v in (3.0, 2.0, 1.0):
        hub.update_scalar('train/loss', v)
    hub.update_info('iter', np.int64(7))
    torch.save({'meta': {'epoch': 1, 'seed': np.int64(3), 'hist': np.arange(3.0)},
                'state_dict': OrderedDict(w=torch.ones(2)),
                'message_hub': hub.state_dict()}, path)


def test_safe_load_of_mmengine_checkpoint(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    _runner_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):  # torch>=2.6 default weights_only=True
        torch.load(path)
    ckpt = compat.safe_torch_load(str(path))
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert buf.min() == 1.0 and buf.current() == 1.0 and buf.mean() == pytest.approx(2.0)
    np.testing.assert_array_equal(ckpt['meta']['hist'], [0.0, 1.0, 2.0])
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))


def test_mmengine_uses_the_safe_loader(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    assert CheckpointLoader._get_checkpoint_loader('/a/b.pth') is compat.load_from_local_safe
    path = tmp_path / 'epoch_1.pth'
    _runner_like_checkpoint(path)
    assert _load_checkpoint(str(path))['meta']['epoch'] == 1


@pytest.mark.parametrize('payload, match', [
    (_Evil(), r"global '(posix|os)\.system'"),
    (_EvilGetattr(), r"getattr\(.*HistoryBuffer.*'__init__'\)"),
])
def test_safe_load_refuses_other_globals(tmp_path, payload, match):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': payload}, path)
    with pytest.raises(pickle.UnpicklingError, match=match):
        compat.safe_torch_load(str(path))
