"""The compat fixes: each test shows the breakage without the fix and the behaviour with it.
(That ``import ltr_plugins`` applies none of them: tests/project/test_plugin_registers_only.py.)"""
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from ltr_testing import lvis_files

import ltr_plugins  # noqa: F401
from ltr_plugins import compat


def _lvis_ap(gt, dets, evaluator_class):
    from lvis import LVIS, LVISResults
    lvis_gt = LVIS(str(gt))
    ev = evaluator_class(lvis_gt, LVISResults(lvis_gt, dets), 'bbox')
    ev.run()
    return ev.get_results()['AP']


def test_lvis_eval_on_numpy2(tmp_path):
    """lvis 0.5.3's own LVISEval fails on numpy 2 (np.float); ours gives the right AP, and
    neither numpy nor the lvis module is modified."""
    import lvis
    import lvis.eval

    from ltr_plugins.lvis_eval import LVISEval
    gt, dets = lvis_files(tmp_path)
    assert not hasattr(np, 'float'), 'numpy still has np.float: the fix is not needed here'
    with pytest.raises(AttributeError, match='float'):  # the module as shipped
        _lvis_ap(gt, dets, lvis.LVISEval)
    assert _lvis_ap(gt, dets, LVISEval) == pytest.approx(1.0)
    assert not hasattr(np, 'float')  # global numpy untouched
    assert lvis.eval.np is np  # the lvis module untouched
    assert issubclass(LVISEval, lvis.LVISEval)


def test_with_globals_leaves_the_upstream_module_alone():
    import lvis.eval
    accumulate = lvis.eval.LVISEval.accumulate
    copy = compat.with_globals(accumulate, np='stand-in')
    assert copy.__code__ is accumulate.__code__ and copy.__globals__['np'] == 'stand-in'
    assert lvis.eval.np is np and lvis.eval.LVISEval.accumulate is accumulate
    with pytest.raises(RuntimeError, match=r"no longer uses \['not_a_name'\]"):
        compat.with_globals(accumulate, not_a_name=1)


def test_fix_outside_its_version_range_is_skipped_with_a_warning(monkeypatch):
    from mmengine.fileio.backends.local_backend import LocalBackend
    put = LocalBackend.put
    monkeypatch.setattr(compat, 'installed_version', lambda module: (0, 12, 0))
    with pytest.warns(RuntimeWarning, match=r'atomic checkpoint writes was written for mmengine '
                      r'>= 0\.10\.0, < 0\.11\.0; mmengine 0\.12\.0 is installed: the fix is '
                      'not applied'):
        assert not compat.patch_mmengine_atomic_local_writes()
    assert LocalBackend.put is put


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
    assert compat.apply_tool_fixes()['safe_checkpoint_loader']  # what the tools do first
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


def test_checkpoint_fixes_hook_is_scoped_to_the_run(tmp_path, monkeypatch):
    """CheckpointFixesHook (for upstream tools): the allow-list loader and atomic writes from
    before_run (mmengine loads / resumes after it) to after_run, mmengine's own after."""
    from collections import OrderedDict

    from mmengine.fileio.backends.local_backend import LocalBackend
    from mmengine.runner import checkpoint

    from ltr_plugins.hooks import CheckpointFixesHook

    # stock mmengine (an earlier test may have applied the tool fixes to this process)
    schemes = OrderedDict(checkpoint.CheckpointLoader._schemes)
    schemes[''] = checkpoint.load_from_local
    monkeypatch.setattr(checkpoint.CheckpointLoader, '_schemes', schemes)
    put, put_text = (getattr(f, '_ltr_plugins_original', f)
                     for f in (LocalBackend.put, LocalBackend.put_text))
    monkeypatch.setattr(LocalBackend, 'put', put)
    monkeypatch.setattr(LocalBackend, 'put_text', put_text)
    path = tmp_path / 'epoch_1.pth'
    _runner_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):  # stock mmengine on torch >= 2.6
        checkpoint._load_checkpoint(str(path))
    hook = CheckpointFixesHook()
    hook.before_run(None)
    assert checkpoint._load_checkpoint(str(path))['meta']['epoch'] == 1
    assert LocalBackend.put._ltr_plugins_fix and LocalBackend.put_text._ltr_plugins_fix
    hook.after_run(None)
    loader = checkpoint.CheckpointLoader._get_checkpoint_loader('/a/b.pth')
    assert loader is checkpoint.load_from_local
    assert LocalBackend.put is put and LocalBackend.put_text is put_text
    with pytest.raises(pickle.UnpicklingError):
        checkpoint._load_checkpoint(str(path))
