"""Top-1 accuracy overall and on the many / medium / few class splits (+ per-class csv)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from ..core.evaluation import group_accuracy, per_class_accuracy
from ..datasets import SHOT_THRESHOLDS, ClassStats
from ..fileio import atomic_write_text, to_csv


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
        out_dir: if given, write ``per_class_accuracy.csv`` (class, name, training images,
            split, test samples, accuracy %) and ``predictions.csv`` (label, prediction,
            confidence = max softmax probability, for calibration plots) there, atomically.
            ``tools/train.py`` / ``tools/test.py`` set it to ``<work_dir>/val`` /
            ``<work_dir>/test`` unless the config sets it.
        collect_device / prefix: see :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 train_ann_file: Optional[str] = None,
                 class_counts: Optional[Sequence[int]] = None,
                 thresholds: Sequence[int] = SHOT_THRESHOLDS,
                 out_dir: Optional[str] = None,
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
        self.out_dir = out_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' in sample:
                conf, pred = (float(v) for v in sample['pred_score'].max(dim=-1))
            else:
                conf, pred = float('nan'), int(sample['pred_label'][0])
            self.results.append((int(pred), int(sample['gt_label'][0]), conf))

    def compute_metrics(self, results: List[tuple]) -> dict:
        pred, gt = (np.asarray(x, dtype=np.int64) for x in list(zip(*results))[:2])
        num_classes = self.stats.num_classes
        if (gt >= num_classes).any() or (gt < 0).any():
            raise ValueError(f'{self.stats.source}: the training set has {num_classes} classes '
                             f'but the evaluated set has label {int(gt.max())}')
        class_acc = per_class_accuracy(pred, gt, num_classes)
        metrics = {'top1': float((pred == gt).mean() * 100)}
        groups = self.stats.group_indices(self.thresholds)
        for name, acc in group_accuracy(class_acc, groups).items():
            metrics[name] = acc * 100
        if self.out_dir:
            self._write_csvs(class_acc, gt, results, groups)
        missing = [g for g in groups if g not in metrics]
        if missing:
            MMLogger.get_current_instance().warning(
                f'LongTailAccuracy: no evaluated class in split(s) {missing}')
        return metrics

    def _write_csvs(self, class_acc: np.ndarray, gt: np.ndarray, results: List[tuple],
                    groups: dict) -> None:
        names = (self.dataset_meta or {}).get('classes') or self.stats.classes
        split = {int(i): g for g, idx in groups.items() for i in idx}
        tested = np.bincount(gt, minlength=self.stats.num_classes)
        rows = [(k, names[k], int(self.stats.image_counts[k]), split.get(k, ''), int(tested[k]),
                 '' if np.isnan(acc) else f'{acc * 100:.4f}') for k, acc in enumerate(class_acc)]
        atomic_write_text(osp.join(self.out_dir, 'per_class_accuracy.csv'), to_csv(
            ('class', 'name', 'train_images', 'split', 'test_samples', 'accuracy'), rows))
        atomic_write_text(osp.join(self.out_dir, 'predictions.csv'), to_csv(
            ('label', 'prediction', 'confidence'), [(y, p, f'{c:.6g}') for p, y, c in results]))
