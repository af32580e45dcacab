"""Shared-tier runs of one seed trained together: the classifiers of K runs retrained on one
frozen trunk pass per batch (:class:`ltr_plugins.retrain_group.RetrainGroup`: the box heads of
a detector, :class:`~ltr_plugins.mmdet.detectors.BoxHeadRetrainGroup`; the necks and heads of
a classifier, :class:`~ltr_plugins.mmpretrain.retrain.ClassifierRetrainGroup`), then tested
together too, one trunk pass per test batch, each run with its own evaluator, as
:class:`.runner.Bench` runs a row.

    python -m ltr_plugins.benchmarking.head_group --work-dir GROUP_DIR --load-from CKPT \\
        --member CONFIG WORK_DIR METRICS_OUT [--member ...]

A run joins the group when it would train exactly as the first run but for its RoI head (neck
and head) (:func:`partition`): same trunk, training loop, optimizer, schedule, hooks and training
samples. The group's checkpoint is split into one ordinary detector checkpoint per member
(``<WORK_DIR>/epoch_N.pth`` and ``last_checkpoint``: ``tools/test.py CONFIG`` tests it again).
The members are tested in one pass over the test set
(:class:`~ltr_plugins.retrain_group.RetrainGroupTestLoop`): the trunk and its proposals once
per batch, each member's head on them, each member's predictions to the evaluator of its own
config (its per-class files in ``<WORK_DIR>/test``), which gives the metrics of a separate
``tools/test.py`` of that member (tests/benchmarking/test_head_group.py compares them). Members
whose tests differ (:data:`TEST_FIELDS`) are each tested by ``tools/test.py``'s ``main``. A run
that cannot join (e.g. OLTR's own optimizer, a sampling method) trains alone
(:mod:`.train_test`) in the same process; the reason is printed. Each member's metrics file
records ``group`` (the run names trained together, or ``[]`` for a run alone), ``test_group``
(the run names tested in one pass with it, or ``[]``) and ``own_minutes`` (a group member's
test, or its share of the group's test; a run alone's training and test).
"""
import argparse
import copy
import gc
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

#: config fields that decide how a run trains, besides its model (the trunk part of it) and
#: its training data; a run joins a group only where they equal the first run's
TRAINING_FIELDS = ('train_cfg', 'optim_wrapper', 'param_scheduler', 'custom_hooks',
                   'default_hooks', 'randomness', 'env_cfg', 'default_scope', 'auto_scale_lr',
                   'data_preprocessor')
#: config fields that decide how a run is tested, besides its model (whose trunk a group
#: shares); the members are tested in one pass only where they equal the first member's (the
#: evaluators may differ: each member keeps its own)
TEST_FIELDS = ('test_dataloader', 'test_cfg')


def _samples(cfg) -> List[str]:
    """The image of every training sample of ``cfg``'s training set, in order (a dataset
    wrapper's repeats included)."""
    from mmengine.registry import DATASETS, DefaultScope
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def group_class(cfg) -> type:
    """The :class:`~ltr_plugins.retrain_group.RetrainGroup` that trains runs like ``cfg``'s
    together (by its model type); ValueError for a model no group takes."""
    from ltr_plugins.mmdet.detectors import BoxHeadRetrainGroup
    from ltr_plugins.mmpretrain.retrain import ClassifierRetrainGroup
    groups = {'BoxHeadRetrainDetector': BoxHeadRetrainGroup,
              'ImageClassifier': ClassifierRetrainGroup}
    kind = cfg.model.get('type')
    if kind not in groups:
        raise ValueError(f'no retraining group takes a {kind!r} model (groups: {sorted(groups)})')
    return groups[kind]


def _training_difference(first, cfg) -> Optional[str]:
    """Why the run of ``cfg`` would not train exactly as that of ``first`` but for the part its
    group retrains per member (RoI head; neck and head), or None."""
    try:
        group = group_class(first)
        group.check_member(0, first.model)
        group.check_member(1, cfg.model)
    except ValueError as e:
        return str(e)
    a, b = group.trunk_config(first.model.to_dict()), group.trunk_config(cfg.model.to_dict())
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return f'model.{key} differs'
    for key in TRAINING_FIELDS:
        if first.get(key) != cfg.get(key):
            return f'{key} differs'
    loader_a = {k: v for k, v in first.train_dataloader.items() if k != 'dataset'}
    loader_b = {k: v for k, v in cfg.train_dataloader.items() if k != 'dataset'}
    if loader_a != loader_b:
        return 'train_dataloader differs (outside its dataset)'
    if first.train_dataloader.dataset != cfg.train_dataloader.dataset \
            and _samples(first) != _samples(cfg):
        return 'its training samples differ'
    return None


def partition(cfgs: Sequence) -> Tuple[List[int], Dict[int, str]]:
    """Which of the runs ``cfgs`` (mmengine ``Config`` s) train together: (indices of the
    group: the first run and every run that trains as it but for its RoI head, {index of a
    run that trains alone: why}). With gradient clipping (``optim_wrapper.clip_grad``: a norm
    over all trained weights, which would couple the members) every run trains alone."""
    if cfgs[0].optim_wrapper.get('clip_grad'):
        return [], {i: 'optim_wrapper.clip_grad couples the members'
                    for i in range(len(cfgs))}
    group, alone = [0], {}
    for i, cfg in enumerate(cfgs[1:], 1):
        why = _training_difference(cfgs[0], cfg)
        if why:
            alone[i] = why
        else:
            group.append(i)
    return group, alone


def group_config(cfgs: Sequence, member_configs: Sequence[str], load_from: str) -> str:
    """The text of the group's config: the first member's config with the model replaced by a
    group (:func:`group_class`) of every member's model, and no validation."""
    from mmengine.config import Config
    models = [cfg.model.to_dict() for cfg in cfgs]
    model = dict(_delete_=True, type=group_class(cfgs[0]).__name__, members=models)
    if 'data_preprocessor' in models[0]:  # else the config's own, as for any model
        model['data_preprocessor'] = models[0]['data_preprocessor']
    # no validation during training: the members are tested after (test_together)
    body = dict(model=model, load_from=load_from, val_dataloader=None, val_cfg=None,
                val_evaluator=None)
    names = ', '.join(osp.basename(c) for c in member_configs)
    return (f'# Generated by ltr_plugins.benchmarking.head_group: the classifiers of {names} '
            f'retrained together on one frozen trunk.\n_base_ = {osp.abspath(member_configs[0])!r}'
            f'\n\n{Config(body).pretty_text}')


def split_checkpoint(group_ckpt: str, work_dirs: Sequence[str]) -> List[str]:
    """Write member ``i``'s weights of the group checkpoint ``group_ckpt`` as an ordinary
    detector checkpoint ``<work_dirs[i]>/<same file name>`` (with ``last_checkpoint``, as
    mmengine's); returns the paths."""
    import io

    import torch

    from ltr_plugins.compat import safe_torch_load
    from ltr_plugins.fileio import atomic_write_bytes, atomic_write_text
    from ltr_plugins.retrain_group import member_state_dict
    ckpt = safe_torch_load(group_ckpt, map_location='cpu')
    paths = []
    for i, work_dir in enumerate(work_dirs):
        member = {'meta': ckpt.get('meta', {}),
                  'state_dict': member_state_dict(ckpt['state_dict'], i)}
        buffer = io.BytesIO()
        torch.save(member, buffer)
        path = osp.join(work_dir, osp.basename(group_ckpt))
        os.makedirs(work_dir, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
        atomic_write_text(osp.join(work_dir, 'last_checkpoint'), path)
        paths.append(path)
    return paths


def test_together(group_cfg: str, checkpoint: str, work_dir: str,
                  member_configs: Sequence[str], member_work_dirs: Sequence[str]) -> List[dict]:
    """Test the members of the group config ``group_cfg`` (:func:`group_config`) from the
    group's ``checkpoint`` in one pass over the test set
    (:class:`~ltr_plugins.retrain_group.RetrainGroupTestLoop`, logs in ``work_dir``); member
    ``i`` is evaluated with the evaluator of ``member_configs[i]`` as ``tools/test.py`` sets it
    up with ``--work-dir member_work_dirs[i]``. Returns the members' metrics, in order."""
    from ltr_plugins.compat import apply_tool_fixes
    from ltr_plugins.launch import build_runner, load_config
    apply_tool_fixes()  # as tools/test.py: e.g. mmengine's checkpoints load under torch >= 2.6
    evaluators = [load_config(c, None, w).test_evaluator
                  for c, w in zip(member_configs, member_work_dirs)]
    cfg = load_config(group_cfg, None, work_dir)
    cfg.load_from = checkpoint
    cfg.test_cfg = dict(type='RetrainGroupTestLoop', member_evaluators=evaluators)
    return build_runner(cfg).test()


def _test_difference(first, cfg) -> Optional[str]:
    """Why the run of ``cfg`` would not be tested as that of ``first`` (:data:`TEST_FIELDS`),
    or None."""
    for key in TEST_FIELDS:
        if first.get(key) != cfg.get(key):
            return f'{key} differs'
    return None


def _record(metrics_out: str, group: List[str], own_minutes: float,
            test_group: Sequence[str] = (), metrics: Optional[dict] = None) -> None:
    """Write the run's metrics file: ``metrics`` (else the file's own, from ``tools/test.py``)
    with ``group``, ``test_group`` and ``own_minutes``."""
    import json

    from ltr_plugins.fileio import atomic_write_json
    if metrics is None:
        with open(metrics_out) as f:
            metrics = json.load(f)
    atomic_write_json(metrics_out, {**metrics, 'group': group, 'test_group': list(test_group),
                                    'own_minutes': own_minutes})


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Train the runs of ``--member`` that may (:func:`partition`) together, the others alone;
    test each; write each run's metrics file."""
    from mmengine.config import Config

    from ltr_plugins.launch import format_results, prepare_embedded_data
    from ltr_plugins.tools import test, train

    from . import train_test
    parser = argparse.ArgumentParser(description='Retrain the classifiers of several shared-tier '
                                     'runs on one frozen trunk, then test each run')
    parser.add_argument('--work-dir', required=True, help="the group's training run")
    parser.add_argument('--load-from', required=True, help='the frozen detector checkpoint')
    parser.add_argument('--member', nargs=3, action='append', required=True,
                        metavar=('CONFIG', 'WORK_DIR', 'METRICS_OUT'))
    args = parser.parse_args(argv)
    configs, work_dirs, metrics_outs = zip(*args.member)
    cfgs = [Config.fromfile(c) for c in configs]
    for cfg in cfgs:
        prepare_embedded_data(cfg)  # the training samples are compared below
    group, alone = partition(cfgs)
    names = [osp.basename(osp.normpath(work_dirs[i])) for i in group]
    if len(group) > 1:
        os.makedirs(args.work_dir, exist_ok=True)
        os.makedirs(osp.join(args.work_dir, 'configs'), exist_ok=True)
        # not in the work dir itself: the runner dumps its resolved config there
        group_cfg = osp.join(args.work_dir, 'configs', 'head_group.py')
        with open(group_cfg, 'w', encoding='utf-8') as f:
            f.write(group_config([cfgs[i] for i in group], [configs[i] for i in group],
                                 args.load_from))
        print(f'[head_group] training {len(group)} heads on one trunk: {", ".join(names)}',
              flush=True)
        train.main([group_cfg, '--work-dir', args.work_dir])
        gc.collect()
        with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
            group_ckpt = f.read().strip()
        checkpoints = split_checkpoint(group_ckpt, [work_dirs[i] for i in group])
        apart = {i: why for i in group if (why := _test_difference(cfgs[group[0]], cfgs[i]))}
        if apart:  # one pass tests every member the same way: each is tested by tools/test.py
            for i, ckpt in zip(group, checkpoints):
                print(f'[head_group] {configs[i]} is tested alone: '
                      f'{apart.get(i, "the test of another member differs")}', flush=True)
                start = time.time()
                test.main([configs[i], ckpt, '--work-dir', work_dirs[i],
                           '--metrics-out', metrics_outs[i]])
                _record(metrics_outs[i], names, (time.time() - start) / 60)
                gc.collect()
        else:
            print(f'[head_group] testing {len(group)} heads on one trunk', flush=True)
            start = time.time()
            results = test_together(group_cfg, group_ckpt, args.work_dir,
                                    [configs[i] for i in group], [work_dirs[i] for i in group])
            share = (time.time() - start) / 60 / len(group)
            for i, name, metrics in zip(group, names, results):
                print(f'[head_group] {name}:\n{format_results(metrics)}', flush=True)
                _record(metrics_outs[i], names, share, names, metrics)
            gc.collect()
    else:
        alone.update({i: 'no other run trains as it does' for i in group})
    for i, why in sorted(alone.items()):
        print(f'[head_group] {configs[i]} trains alone: {why}', flush=True)
        start = time.time()
        train_test.main([configs[i], '--work-dir', work_dirs[i], '--metrics-out',
                         metrics_outs[i], '--cfg-options', f'load_from={args.load_from}'])
        _record(metrics_outs[i], [], (time.time() - start) / 60)
        gc.collect()


if __name__ == '__main__':
    main()
