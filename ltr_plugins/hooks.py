"""mmengine hooks shared by the mmpretrain and mmdet adapters (registered in mmengine's root
``HOOKS`` registry, so configs of either scope find them)."""
import copy
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.utils import ProgressBar

from .core import (DiscCentroidsLoss, all_reduce_class_sums, check_finite, class_feature_sums,
                   is_distributed)

#: dataset wrappers whose inner ``dataset`` the centroid pass uses (each image once)
_WRAPPERS = ('ClassBalancedDataset', 'RepeatDataset')


def _plain(cfg) -> dict:
    """A deep plain-dict copy of a config section (ConfigDict.update would merge keys)."""
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else copy.deepcopy(dict(cfg))


@HOOKS.register_module()
class OLTRCentroidInitHook(Hook):
    """Set OLTR's visual memory to the class means of the direct features before stage 2.

    In ``before_train`` (after mmengine's load / resume): unless the centroids are already
    initialised (``loss_centroid.initialized``, e.g. restored by ``--resume`` or loaded from a
    stage-2 checkpoint), run one pass over the *training* set in eval mode, without gradients,
    with the given (test) ``pipeline``, and set each class centroid to its mean feature. Under
    DDP the shards are disjoint (``DefaultSampler(shuffle=False, round_up=False)``) and the
    per-class sums and counts are all-reduced, so every rank gets the same means.

    The head that owns the memory (the one module with a ``loss_centroid``
    :class:`DiscCentroidsLoss` and a ``centroid_features(model, inputs, data_samples)`` method)
    supplies (features, labels) per batch: image features for classification, GT-box RoI
    features for detection.

    Args:
        pipeline: data pipeline of the pass; default: the val dataloader's pipeline (test
            transforms). Detection needs one that loads the GT boxes.
        batch_size: default: the val dataloader's.
        num_workers: workers of the pass (default: the val dataloader's).
        force: recompute even if the centroids are marked initialised.
    """

    priority = 'VERY_HIGH'  # before any hook that reads the head in before_train

    def __init__(self, pipeline: Optional[List[dict]] = None, batch_size: Optional[int] = None,
                 num_workers: Optional[int] = None, force: bool = False) -> None:
        self.pipeline, self.batch_size, self.num_workers = pipeline, batch_size, num_workers
        self.force = force

    @staticmethod
    def _find_head(model: torch.nn.Module) -> torch.nn.Module:
        heads = [m for m in model.modules()
                 if isinstance(getattr(m, 'loss_centroid', None), DiscCentroidsLoss)
                 and hasattr(m, 'centroid_features')]
        if len(heads) != 1:
            raise RuntimeError(f'OLTRCentroidInitHook: expected one module with a '
                               f'loss_centroid (DiscCentroidsLoss) and centroid_features(), '
                               f'found {len(heads)}')
        return heads[0]

    def _dataloader_cfg(self, runner) -> dict:
        cfg = _plain(runner.cfg.train_dataloader)
        dataset = cfg['dataset']
        while dataset.get('type') in _WRAPPERS and 'dataset' in dataset:
            dataset = dataset['dataset']
        # test transforms: the val loader's (the test set may be a ConcatDataset with open data)
        test_cfg = _plain(runner.cfg.get('val_dataloader') or runner.cfg.test_dataloader)
        pipeline = self.pipeline or test_cfg['dataset'].get('pipeline')
        if pipeline is None:
            raise ValueError('OLTRCentroidInitHook: no pipeline given and val_dataloader.dataset '
                             'has none; set pipeline=[...] (test transforms) in the hook config')
        dataset['pipeline'] = copy.deepcopy(pipeline)
        cfg.update(dataset=dataset,
                   # disjoint shards, no padding: exact sums under DDP
                   sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
                   batch_size=self.batch_size or test_cfg.get('batch_size', cfg['batch_size']),
                   num_workers=(self.num_workers if self.num_workers is not None else
                                test_cfg.get('num_workers', 0)))
        cfg.pop('batch_sampler', None)
        if cfg['num_workers'] == 0:
            cfg['persistent_workers'] = False
        return cfg

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = self._find_head(model)
        memory = head.loss_centroid
        if bool(memory.initialized) and not self.force:
            print_log('OLTR centroids were restored from the checkpoint: not recomputed',
                      logger='current')
            return
        loader = runner.build_dataloader(self._dataloader_cfg(runner))
        was_training = model.training
        model.eval()
        sums = counts = None
        progress = ProgressBar(len(loader.dataset)) if is_main_process() else None
        with torch.no_grad():
            for data in loader:
                data = model.data_preprocessor(data, False)
                feats, labels = head.centroid_features(model, data['inputs'],
                                                       data['data_samples'])
                check_finite(feats, type(self).__name__, 'features of the centroid pass')
                s, c = class_feature_sums(feats, labels, memory.num_classes)
                sums, counts = (s, c) if sums is None else (sums + s, counts + c)
                if progress is not None:
                    progress.update(len(data['data_samples']))
        if sums is None:  # an empty shard
            sums = torch.zeros(memory.num_classes, memory.feat_dim, dtype=torch.float64,
                               device=memory.centroids.device)
            counts = torch.zeros(memory.num_classes, dtype=torch.float64, device=sums.device)
        sums, counts = all_reduce_class_sums(sums.to(memory.centroids.device),
                                             counts.to(memory.centroids.device))
        missing = (counts == 0).nonzero().flatten().tolist()
        means = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None],
                            memory.centroids.detach().double())
        memory.set_centroids(means)
        model.train(was_training)
        print_log(f'OLTR centroids set to the class means of {int(counts.sum())} training '
                  f'samples{" (summed over ranks)" if is_distributed() else ""}'
                  + (f'; classes without samples keep their initial values: {missing}'
                     if missing else ''), logger='current')


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Stop with a clear error when the model's class count does not match the data set's.

    Compares ``num_classes`` of the heads (mmpretrain ``model.head``; mmdet
    ``model.roi_head.bbox_head`` / ``mask_head`` or a one-stage ``model.bbox_head``) and of an
    mmpretrain ``data_preprocessor`` with ``len(dataset.metainfo['classes'])`` of the train
    (``before_train``), val (``before_val``) and test (``before_test``) data sets. Without it a
    head with fewer classes fails deep inside the loss ("Target 5 is out of bounds") and one
    with more trains silently. Data sets without a class list are skipped. ``tools/train.py``
    and ``tools/test.py`` add it to every config (:func:`ltr_plugins.launch.build_runner`).

    mmdet's own ``NumClassCheckHook`` compares every submodule that has a ``num_classes``
    attribute, which is wrong for modules that count the background column (CAMC's detection
    calibration holds K + 1 prototypes).
    """

    priority = 'VERY_HIGH'
    #: where the class count of a model lives (dotted attribute paths)
    PLACES = ('head', 'roi_head.bbox_head', 'roi_head.mask_head', 'bbox_head',
              'data_preprocessor')

    def __init__(self) -> None:
        self._checked = set()

    @classmethod
    def model_class_counts(cls, model: torch.nn.Module) -> List[tuple]:
        """``[(config path, num_classes), ...]`` of ``model`` (unwrapped)."""
        out = []
        for place in cls.PLACES:
            module = model
            for name in place.split('.'):
                module = getattr(module, name, None)
                if module is None:
                    break
            num = getattr(module, 'num_classes', None) if module is not None else None
            if isinstance(num, int):
                out.append((f'model.{place}.num_classes', num))
        return out

    def _check(self, runner, split: str) -> None:
        if split in self._checked:
            return
        loader = getattr(runner, f'{split}_dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        classes = getattr(dataset, 'metainfo', {}).get('classes') if dataset is not None \
            else None
        self._checked.add(split)
        if not classes or isinstance(classes, str):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        bad = [(place, num) for place, num in self.model_class_counts(model)
               if num != len(classes)]
        if bad:
            inner = dataset
            while not hasattr(inner, 'ann_file') and hasattr(inner, 'dataset'):
                inner = inner.dataset
            source = getattr(inner, 'ann_file', '') or ''
            raise ValueError(
                f'the {split} data set {type(dataset).__name__}'
                f'{" (" + str(source) + ")" if source else ""} has {len(classes)} classes but '
                + ', '.join(f'{place}={num}' for place, num in bad)
                + f'; set num_classes={len(classes)} in the config (model head(s) and '
                'data_preprocessor) or give the data set the intended class list')

    def before_train(self, runner) -> None:
        self._check(runner, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, 'test')


@HOOKS.register_module()
class CheckpointFixesHook(Hook):
    """Safe checkpoint loading and atomic checkpoint writes for one run of a runner, for
    mmdet's / mmpretrain's own tools (``custom_hooks=[dict(type='CheckpointFixesHook')]``).

    ``import ltr_plugins`` changes nothing in mmengine, and our tools apply these fixes
    themselves (:func:`ltr_plugins.compat.apply_tool_fixes`). An upstream tool on torch >= 2.6
    cannot load the checkpoints mmengine 0.10 writes (``torch.load`` refuses their
    ``HistoryBuffer``): this hook registers the allow-list loader
    (:func:`ltr_plugins.compat.register_safe_checkpoint_loader`) and the atomic local writes
    (:func:`ltr_plugins.compat.patch_mmengine_atomic_local_writes`) in ``before_run``, which
    mmengine calls before it loads ``load_from`` / resumes, and puts mmengine's previous
    loader table and ``LocalBackend`` methods back in ``after_run``. Version checks as there.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._saved = None

    def before_run(self, runner) -> None:
        from mmengine.fileio.backends.local_backend import LocalBackend
        from mmengine.runner.checkpoint import CheckpointLoader

        from .compat import patch_mmengine_atomic_local_writes, register_safe_checkpoint_loader

        # register_scheme edits the table in place before replacing it: keep a copy
        self._saved = (copy.copy(CheckpointLoader._schemes), vars(LocalBackend)['put'],
                       vars(LocalBackend)['put_text'])
        register_safe_checkpoint_loader()
        patch_mmengine_atomic_local_writes()

    def after_run(self, runner) -> None:
        if self._saved is None:
            return
        from mmengine.fileio.backends.local_backend import LocalBackend
        from mmengine.runner.checkpoint import CheckpointLoader
        CheckpointLoader._schemes, LocalBackend.put, LocalBackend.put_text = self._saved
        self._saved = None
