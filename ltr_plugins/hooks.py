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

from .core import DiscCentroidsLoss, all_reduce_class_sums, class_feature_sums, is_distributed

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
