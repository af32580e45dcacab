"""Top-1 accuracy overall and on the many / medium / few class splits."""
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from ..core.evaluation import group_accuracy, per_class_accuracy
from ..datasets import SHOT_THRESHOLDS, ClassStats


@METRICS.register_module()
class LongTailAccuracy(BaseMetric):
    """Top-1 accuracy (%) overall and per many / medium / few split.

    The split of each class comes from its number of *training* images: few ``< 20``,
    medium ``20..100``, many ``> 100`` by default. Overall top-1 is over samples; a split's
    accuracy is the mean of its classes' accuracies (equal to the sample mean on a balanced
    test set such as ImageNet-LT's). Empty splits are not reported.

    Args:
        train_ann_file: mmpretrain annotation list of the training set (``path label`` lines)
            from which the per-class training counts are taken.
        class_counts: per-class training image counts, instead of ``train_ann_file``.
        thresholds: ``(few_below, many_above)`` boundaries, default ``(20, 100)``.
        collect_device / prefix: see :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 train_ann_file: Optional[str] = None,
                 class_counts: Optional[Sequence[int]] = None,
                 thresholds: Sequence[int] = SHOT_THRESHOLDS,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if (train_ann_file is None) == (class_counts is None):
            raise ValueError('LongTailAccuracy needs exactly one of train_ann_file / class_counts')
        if train_ann_file is not None:
            self.stats = ClassStats.from_mmpretrain_ann(train_ann_file)
        else:
            self.stats = ClassStats.from_counts(class_counts)
        self.thresholds = tuple(thresholds)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' in sample:
                pred = int(sample['pred_score'].argmax())
            else:
                pred = int(sample['pred_label'][0])
            self.results.append((pred, int(sample['gt_label'][0])))

    def compute_metrics(self, results: List[tuple]) -> dict:
        pred, gt = (np.asarray(x, dtype=np.int64) for x in zip(*results))
        num_classes = self.stats.num_classes
        if (gt >= num_classes).any() or (gt < 0).any():
            raise ValueError(f'{self.stats.source}: the training set has {num_classes} classes '
                             f'but the evaluated set has label {int(gt.max())}')
        class_acc = per_class_accuracy(pred, gt, num_classes)
        metrics = {'top1': float((pred == gt).mean() * 100)}
        groups = self.stats.group_indices(self.thresholds)
        for name, acc in group_accuracy(class_acc, groups).items():
            metrics[name] = acc * 100
        missing = [g for g in groups if g not in metrics]
        if missing:
            MMLogger.get_current_instance().warning(
                f'LongTailAccuracy: no evaluated class in split(s) {missing}')
        return metrics
