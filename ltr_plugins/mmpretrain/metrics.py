"""Top-1 accuracy overall and on the many / medium / few class splits (+ per-class csv);
OLTR's open-set metric."""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from ..core.evaluation import (SHOT_SPLIT_RULES, UNKNOWN, group_accuracy, macro_f1,
                               open_set_f_measure, per_class_accuracy, reject_by_confidence)
from ..datasets import SHOT_THRESHOLDS, ClassStats
from ..fileio import atomic_write_text, to_csv


@METRICS.register_module()
class LongTailAccuracy(BaseMetric):
    """Top-1 accuracy (%) overall and per many / medium / few split.

    The split of each class comes from its number of *training* images, by default as the
    evaluation code behind the published numbers (OLTR ``utils.py`` ``shot_acc``, VL-LTR
    ``engine.py`` ``shot_acc``): many ``>= 100``, medium ``21..99``, few ``<= 20``
    (``split_rule='inclusive'``); ``split_rule='exclusive'`` gives many ``> 100``, medium
    ``20..100``, few ``< 20`` (see :func:`ltr_plugins.core.evaluation.shot_groups`; they differ
    only for classes with exactly 20 or 100 images). Overall top-1 is over samples; a split's
    accuracy is the mean of its classes' accuracies (equal to the sample mean on a balanced
    test set such as ImageNet-LT's). Empty splits are not reported.

    Args:
        train_ann_file: mmpretrain annotation list of the training set (``path label`` lines)
            from which the per-class training counts are taken.
        class_counts: per-class training image counts, instead of ``train_ann_file``.
        thresholds: ``(lo, hi)`` split boundaries, default ``(20, 100)``.
        split_rule: ``'inclusive'`` (default: few ``<= lo``, many ``>= hi``) or
            ``'exclusive'`` (few ``< lo``, many ``> hi``).
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
                 split_rule: str = 'inclusive',
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
        if split_rule not in SHOT_SPLIT_RULES:
            raise ValueError(f'{type(self).__name__}: split_rule must be one of '
                             f'{SHOT_SPLIT_RULES}, got {split_rule!r}')
        self.split_rule = split_rule
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
        groups = self.stats.group_indices(self.thresholds, self.split_rule)
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


@METRICS.register_module()
class OpenSetLongTailAccuracy(LongTailAccuracy):
    """OLTR's open-set evaluation on a test set mixed with open-set samples (label -1).

    Closed set (known samples only, argmax, no rejection): ``top1`` / ``many`` / ``medium`` /
    ``few`` (%, as :class:`LongTailAccuracy`) and ``macro_f1``. Open set: a sample whose
    maximum softmax probability is below ``threshold`` is rejected as unknown; then the same
    accuracies on the known samples with the rejected ones counted wrong,
    ``top1_after_rejection`` / ``many_after_rejection`` / ``medium_after_rejection`` /
    ``few_after_rejection`` (%): these are what the OLTR reference prints in a ``--test_open``
    run (zhmiao/OpenLongTailRecognition-OLTR ``run_networks.py`` lines 293-310: predictions
    below ``open_threshold`` are set to -1 before ``mic_acc_cal`` and ``shot_acc``), the
    numbers of the paper's open-set table; then
    ``f_measure`` (and its ``precision`` / ``recall``, see
    :func:`ltr_plugins.core.evaluation.open_set_f_measure`), ``open_rejection_rate`` (% of
    open samples rejected) and ``known_rejection_rate`` (% of known samples rejected).
    F-measure, precision, recall and macro-F1 are fractions in [0, 1], as in the paper.

    Args:
        threshold: rejection threshold on the max probability (OLTR: 0.1), or a list of
            them: the first gives the unsuffixed keys, the others ``f_measure@<t>`` etc.
        rejected_known_is_fp: count rejected known samples as false positives (spec default).
        train_ann_file / class_counts / thresholds / collect_device / prefix: as
            :class:`LongTailAccuracy`.
    """

    default_prefix: Optional[str] = 'open_set'

    def __init__(self, threshold: Union[float, Sequence[float]] = 0.1,
                 rejected_known_is_fp: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        thresholds = [threshold] if isinstance(threshold, (int, float)) else list(threshold)
        if not thresholds or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ValueError(f'OpenSetLongTailAccuracy: threshold must be a value in [0, 1] '
                             f'or a non-empty list of them, got {threshold}')
        self.rejection_thresholds = thresholds
        self.rejected_known_is_fp = rejected_known_is_fp

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if any('pred_score' not in s for s in data_samples):
            raise KeyError('OpenSetLongTailAccuracy needs pred_score (class probabilities)')
        super().process(data_batch, data_samples)  # (prediction, label, max probability)

    def compute_metrics(self, results: List[tuple]) -> dict:
        pred, gt, max_prob = (np.asarray(x) for x in zip(*results))
        pred, gt = pred.astype(np.int64), gt.astype(np.int64)
        known = gt != UNKNOWN
        if not known.any():
            raise ValueError('OpenSetLongTailAccuracy: no known (closed-set) sample evaluated')
        # closed set: LongTailAccuracy on the known samples (its csv files cover those)
        metrics = super().compute_metrics([r for r in results if r[1] != UNKNOWN])
        metrics['macro_f1'] = macro_f1(pred[known], gt[known], self.stats.num_classes)
        for i, threshold in enumerate(self.rejection_thresholds):
            suffix = '' if i == 0 else f'@{threshold:g}'
            open_pred = reject_by_confidence(pred, max_prob, threshold)
            # the closed-set accuracies again, rejected known samples counting as wrong
            kept = open_pred[known]
            metrics['top1_after_rejection' + suffix] = float((kept == gt[known]).mean() * 100)
            class_acc = per_class_accuracy(kept, gt[known], self.stats.num_classes)
            groups = self.stats.group_indices(self.thresholds, self.split_rule)
            for name, acc in group_accuracy(class_acc, groups).items():
                metrics[f'{name}_after_rejection{suffix}'] = acc * 100
            for key, value in open_set_f_measure(open_pred, gt,
                                                 self.rejected_known_is_fp).items():
                metrics[key + suffix] = value
            metrics['known_rejection_rate' + suffix] = float(
                (open_pred[known] == UNKNOWN).mean() * 100)
            if (~known).any():
                metrics['open_rejection_rate' + suffix] = float(
                    (open_pred[~known] == UNKNOWN).mean() * 100)
        if known.all():
            MMLogger.get_current_instance().warning(
                'OpenSetLongTailAccuracy: no open-set sample (label -1) evaluated')
        return metrics
