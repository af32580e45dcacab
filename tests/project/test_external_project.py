"""examples/external_project: a foreign project's configs (mmdet:: / mmpretrain:: bases, only
custom_imports + ltr_plugins modules added) trained and tested with mmdet's and mmpretrain's
own tools/train.py and tools/test.py, from outside this repository."""
import os
import subprocess
import sys

import pytest
from ltr_testing import REPO, upstream_tool

EXAMPLE = REPO / 'examples' / 'external_project'


def _run(args, cwd):
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=900, env=dict(os.environ))
    assert proc.returncode == 0, f'{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


@pytest.mark.parametrize('pkg, config, train_opts, test_opts', [
    # one short epoch on a subset; the test pass on 16 val images (the LVIS evaluator still
    # scores against all 150: a low AP, but every column is computed)
    ('mmdet', 'mask_rcnn_r18_iif_embedded.py',
     ['train_cfg.max_epochs=1', 'train_cfg.val_begin=2',
      'train_dataloader.dataset.dataset.indices=32'], ['test_dataloader.dataset.indices=16']),
    ('mmpretrain', 'convnet_iif_embedded.py', ['train_cfg.max_epochs=1'], []),
])
def test_external_project_with_upstream_tools(demo_data, tmp_path, pkg, config, train_opts,
                                              test_opts):
    project = tmp_path / 'project'
    project.mkdir()
    (project / 'configs').mkdir()
    (project / 'configs' / config).write_text((EXAMPLE / 'configs' / config).read_text())
    (project / 'data').mkdir()
    (project / 'data' / 'demo').symlink_to(demo_data)
    work = project / 'work_dirs' / 'run'
    _run([upstream_tool(pkg, 'train.py'), f'configs/{config}', '--work-dir', work,
          '--cfg-options', *train_opts, 'default_hooks.checkpoint.interval=1'], project)
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    out = _run([upstream_tool(pkg, 'test.py'), f'configs/{config}', ckpt, '--work-dir', work,
                *(['--cfg-options', *test_opts] if test_opts else [])], project)
    if pkg == 'mmdet':
        assert 'segm_APr' in out and 'bbox_APf' in out
        # the IIF head was used: its buffer is in the checkpoint
        import torch
        state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
        assert 'roi_head.bbox_head.iif.weights' in state
        assert state['roi_head.bbox_head.iif.weights'].shape == (13, )  # 12 classes + bg
    else:
        assert 'accuracy/few' in out and 'accuracy/many' in out
