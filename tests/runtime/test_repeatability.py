"""Repeatability (docs/reliability.md#repeatability): two short tools/train.py runs of the same
config, seed and thread count give bit-identical weights, losses and validation metrics; another
seed changes them. The two same-seed runs get different Python hash seeds, so nothing may depend
on set or dict-of-hash ordering either."""
import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from ltr_testing import run_tool

CLS_CFG = 'tests/configs/convnet_tiny.py'
DET_CFG = 'tests/configs/mask_rcnn_tiny.py'
_TIMING = ('time', 'data_time', 'memory', 'eta')


def _train(cfg: str, work_dir: Path, hash_seed: str, *options: str) -> str:
    proc = run_tool(['tools/train.py', cfg, '--work-dir', work_dir, '--threads', '2', *options],
                    PYTHONHASHSEED=hash_seed)
    return proc.stdout + proc.stderr


def _scalars(work_dir: Path):
    """Every logged loss and metric row of the run, without the timings."""
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert len(logs) == 1, f'expected one run under {work_dir}, got {logs}'
    rows = [json.loads(line) for line in logs[0].read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in _TIMING} for r in rows]


def _weights(work_dir: Path, epoch: int):
    return torch.load(work_dir / f'epoch_{epoch}.pth', weights_only=False)['state_dict']


def _identical(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _check(cfg, tmp_path, epoch, metric, *options):
    runs = {}
    for name, hash_seed, extra in (('a', '1', ()), ('b', '2', ()), ('seed1', '1', ('--seed', '1'))):
        log = _train(cfg, tmp_path / name, hash_seed, *options, *extra)
        runs[name] = (_scalars(tmp_path / name), _weights(tmp_path / name, epoch))
        seed = extra[-1] if extra else '0'
        # the run's log states what was fixed
        assert f'repeatability: seed {seed} (randomness.seed)' in log, log[-3000:]
        assert 'torch CPU threads 2 (--threads)' in log
    (rows_a, w_a), (rows_b, w_b), (rows_s, w_s) = runs['a'], runs['b'], runs['seed1']
    assert any(metric in r for r in rows_a), rows_a  # validation ran and was logged
    assert rows_a == rows_b  # every loss and metric, exactly
    assert _identical(w_a, w_b)
    # control: the comparison can fail — another seed changes the weights and the losses
    assert not _identical(w_a, w_s)
    assert [r.get('loss') for r in rows_a] != [r.get('loss') for r in rows_s]


def test_classification_same_seed_is_bit_identical(tiny_data, tmp_path):
    # two data loader workers: their augmentation (RandomCrop) is seeded per worker
    _check(CLS_CFG, tmp_path, 1, 'accuracy/top1', '--cfg-options', 'train_cfg.max_epochs=1',
           'train_dataloader.num_workers=2')


def test_detection_same_seed_is_bit_identical(tiny_data, tmp_path):
    # deterministic algorithms on: no CPU op of Mask R-CNN's training refuses them. 16 of the
    # 200 training images (a few iterations after repeat-factor sampling), the whole val set
    _check(DET_CFG, tmp_path, 1, 'lvis/segm_AP', '--deterministic', '--cfg-options',
           'train_dataloader.dataset.dataset.indices=16')


def _parse(argv, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # parse_tool_args exports it; undone after the test
    from ltr_plugins.launch import add_common_args, parse_tool_args
    parser = argparse.ArgumentParser()
    add_common_args(parser, 'work dir')
    return parse_tool_args(parser, argv)


def test_seed_and_deterministic_options_become_cfg_options(monkeypatch):
    args = _parse(['--seed', '3', '--deterministic', '--cfg-options', 'train_cfg.max_epochs=1'],
                  monkeypatch)
    assert args.cfg_options == {'train_cfg.max_epochs': 1, 'randomness.seed': 3,
                                'randomness.deterministic': True}
    assert _parse([], monkeypatch).cfg_options is None  # nothing given: the config decides


def test_threads_option(monkeypatch):
    from ltr_plugins import repeatability
    before = torch.get_num_threads()
    for key in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(repeatability, '_THREADS_FROM_OPTION', None)
    try:
        _parse(['--threads', '1'], monkeypatch)
        assert torch.get_num_threads() == 1
        assert (repeatability.os.environ['OMP_NUM_THREADS'],
                repeatability.os.environ['MKL_NUM_THREADS']) == ('1', '1')
        with pytest.raises(ValueError, match='--threads must be >= 1'):
            _parse(['--threads', '0'], monkeypatch)
    finally:
        torch.set_num_threads(before)


def test_log_line_says_when_the_seed_was_drawn():
    from mmengine.config import Config

    from ltr_plugins.repeatability import describe
    cfg = Config(dict(train_dataloader=dict(num_workers=2), test_dataloader=dict(batch_size=1),
                      embedded_data=dict(preset='tiny', root='data/tiny', seed=0)))
    runner = SimpleNamespace(seed=123, _randomness_cfg=dict(seed=None), cfg=cfg, world_size=1)
    line = describe(runner)
    assert 'seed 123 (drawn at random: set randomness.seed or --seed to repeat the run)' in line
    assert 'data loader workers train 2, test 0' in line
    assert 'embedded data tiny seed 0' in line
    runner._randomness_cfg = dict(seed=5, diff_rank_seed=True)
    runner.seed = 5
    assert 'seed 5 (randomness.seed) + rank' in describe(runner)
