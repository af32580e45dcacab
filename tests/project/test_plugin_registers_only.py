"""``import ltr_plugins`` registers modules and changes nothing else (issue 19).

In a fresh process the stack (mmcv + ops, mmengine, mmdet, mmpretrain, lvis) is imported first;
then every attribute of every loaded module of those packages, every entry of the classes they
define (``vars(cls)``) and the contents of their module- and class-level dicts (mmengine's
``MODULE2PACKAGE``, ``CheckpointLoader._schemes``, ...) are recorded, ``ltr_plugins`` is
imported, and the same objects must still be there. mmengine ``Registry`` tables are instance
state, not recorded: registration is what the import is for. New attributes that are submodules
(imported by the adapters) are allowed. The control applies the tools' fixes and must be seen.
"""
import json
import subprocess
import sys

from ltr_testing import REPO, lvis_files

SNAPSHOT = r'''
import importlib, json, sys, types

PACKAGES = ('mmcv', 'mmengine', 'mmdet', 'mmpretrain', 'lvis')
for name in ('mmcv', 'mmcv.ops', 'mmengine', 'mmengine.runner', 'mmengine.fileio',
             'mmengine.config', 'mmengine.hub', 'mmengine.utils', 'mmdet', 'mmdet.models',
             'mmdet.evaluation', 'mmdet.evaluation.metrics', 'mmpretrain', 'mmpretrain.models',
             'mmpretrain.evaluation', 'lvis', 'lvis.eval'):
    importlib.import_module(name)


def entries(owner_name, namespace):
    """(key, object) of a namespace and of the dicts in it."""
    for attr, value in list(namespace.items()):
        if attr == '__warningregistry__':  # warnings' bookkeeping
            continue
        key = f'{owner_name}.{attr}'
        yield key, value
        if isinstance(value, dict):
            for k, v in list(value.items()):
                yield f'{key}[{k!r}]', v


def snapshot():
    out = {}
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.split('.')[0] not in PACKAGES or not isinstance(mod, types.ModuleType):
            continue
        for key, value in entries(mod_name, vars(mod)):
            out[key] = value
            if isinstance(value, type) and value.__module__ == mod_name:
                out.update(entries(key, dict(vars(value))))
    return out


before = snapshot()
exec(sys.argv[1])
after = snapshot()
changed = sorted(k for k, v in before.items() if k not in after or after[k] is not v)
added = sorted(k for k, v in after.items()
               if k not in before and not isinstance(v, types.ModuleType))
print(json.dumps({'changed': changed, 'added': added}))
'''


def _changes(statement: str) -> dict:
    proc = subprocess.run([sys.executable, '-c', SNAPSHOT, statement], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mmengine_finds_this_copy() -> bool:
    """Whether mmengine's ``get_installed_path`` answers with this checkout's package (run
    where the snapshot runs: ``python -c`` puts the working directory first on the path)."""
    code = ("import os.path as osp, ltr_plugins, mmengine.utils as u; "
            "print(osp.abspath(u.get_installed_path('ltr_plugins')) == "
            "osp.dirname(osp.abspath(ltr_plugins.__file__)))")
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1] == 'True'


#: what the tools' fixes change (and the old ``import ltr_plugins`` changed)
PATCHED = ('mmcv.ops.nms.NMSop.forward', 'mmcv.ops.roi_align.RoIAlign.forward',
           'mmengine.runner.checkpoint.CheckpointLoader._schemes',
           'mmengine.fileio.backends.local_backend.LocalBackend.put',
           'mmengine.fileio.backends.local_backend.LocalBackend.put_text',
           'mmengine.utils.get_installed_path', 'mmengine.config.config.get_installed_path',
           'mmengine.hub.hub.get_installed_path', 'lvis.eval.np')


def test_import_changes_no_attribute_of_the_stack():
    changes = _changes('import ltr_plugins')
    assert changes == {'changed': [], 'added': []}


def test_control_the_snapshot_sees_the_tool_fixes():
    """The fixes the old import applied, applied explicitly (the tools' entry points, plus the
    old lvis numpy swap), are all reported: the check above can fail."""
    changes = _changes(
        'import types, lvis.eval, ltr_plugins.compat as c; c.apply_tool_fixes(); '
        "c.patch_mmcv_cpu_ops_for_autocast(); lvis.eval.np = types.ModuleType('numpy')")
    # mmengine's get_installed_path is only replaced where it misses this copy (an editable
    # install without egg-info next to it); where it finds it, it must stay as it is
    path_fix = [k for k in PATCHED if k.endswith('get_installed_path')]
    expected = [k for k in PATCHED if k not in path_fix or not _mmengine_finds_this_copy()]
    missing = [key for key in expected if key not in changes['changed']]
    assert not missing, changes
    unexpected = [key for key in path_fix if key not in expected and key in changes['changed']]
    assert not unexpected, changes
    assert "mmengine.config.utils.MODULE2PACKAGE['ltr_plugins']" in changes['added']


LVIS_AFTER_IMPORT = r'''
import json, sys
import torch
import ltr_plugins  # nothing else: no tool fixes
from mmdet.registry import METRICS

gt_file = sys.argv[1]
data = json.load(open(gt_file))
label_of = {c['id']: i for i, c in enumerate(sorted(data['categories'], key=lambda c: c['id']))}
samples = []
for img in data['images']:
    anns = [a for a in data['annotations'] if a['image_id'] == img['id']]
    samples.append(dict(img_id=img['id'], ori_shape=(img['height'], img['width']),
                        pred_instances=dict(
                            bboxes=torch.tensor([[x, y, x + w, y + h]
                                                 for x, y, w, h in (a['bbox'] for a in anns)]),
                            scores=torch.ones(len(anns)),
                            labels=torch.tensor([label_of[a['category_id']] for a in anns]))))


def evaluate(kind):
    metric = METRICS.build(dict(type=kind, ann_file=gt_file, metric='bbox'))
    metric.dataset_meta = {'classes': tuple(c['name'] for c in data['categories'])}
    metric.process({}, samples)
    return metric.evaluate(len(samples))


out = {'ours': evaluate('LongTailLVISMetric')}
try:
    out['stock'] = evaluate('LVISMetric')
except AttributeError as e:
    out['stock'] = f'AttributeError: {e}'
print(json.dumps(out))
'''


def test_lvis_metric_on_numpy2_after_only_the_import(tmp_path):
    """A process that only imported ltr_plugins (what ``custom_imports`` does in mmdet's own
    tools) evaluates LVIS through LongTailLVISMetric on numpy 2. Control: mmdet's own
    LVISMetric in the same process still meets lvis 0.5.3's ``np.float``: lvis is unchanged."""
    import numpy as np
    assert not hasattr(np, 'float'), 'numpy still has np.float: nothing to show here'
    gt, _ = lvis_files(tmp_path)
    proc = subprocess.run([sys.executable, '-c', LVIS_AFTER_IMPORT, str(gt)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['ours']['lvis/bbox_AP'] == 1.0 and out['ours']['lvis/bbox_APf'] == 1.0
    assert out['stock'].startswith('AttributeError') and "'float'" in out['stock']
