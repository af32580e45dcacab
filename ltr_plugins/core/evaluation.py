"""Long-tail evaluation math on plain arrays (shared by the mmpretrain / mmdet metrics)."""
from typing import Dict, Mapping

import numpy as np


def per_class_accuracy(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> np.ndarray:
    """Accuracy of each class.

    Args:
        pred: (N,) predicted labels.
        gt: (N,) ground-truth labels in ``[0, num_classes)``.
        num_classes: K.

    Returns:
        (K,) float array; NaN for classes without test samples.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    total = np.bincount(gt, minlength=num_classes).astype(np.float64)
    correct = np.bincount(gt[pred == gt], minlength=num_classes).astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(total > 0, correct / np.maximum(total, 1), np.nan)


def group_accuracy(class_acc: np.ndarray, groups: Mapping[str, np.ndarray]) -> Dict[str, float]:
    """Mean per-class accuracy over each group of classes (classes without test samples and
    empty groups are skipped), as in OLTR's ``shot_acc``.

    Args:
        class_acc: (K,) per-class accuracy (NaN = no test sample).
        groups: group name -> indices of its classes.
    """
    out = {}
    for name, idx in groups.items():
        vals = class_acc[np.asarray(idx, dtype=np.int64)]
        vals = vals[~np.isnan(vals)]
        if len(vals):
            out[name] = float(vals.mean())
    return out


def per_category_ap(precision: np.ndarray, area_index: int = 0) -> np.ndarray:
    """Average precision of each category from an LVIS / COCO ``precision`` array.

    Args:
        precision: (T, R, K, A) precision at T IoU thresholds, R recall thresholds, K
            categories and A area ranges, -1 where undefined (``LVISEval.eval['precision']``).
        area_index: which area range (0 = all).

    Returns:
        (K,) float array: the mean of the defined entries of each category, NaN for a category
        without ground truth in the evaluated images. The mean over the non-NaN entries equals
        the evaluator's overall AP (each evaluated category defines all T x R entries).
    """
    p = np.asarray(precision, dtype=np.float64)[:, :, :, area_index]
    valid = p > -1
    count = valid.sum(axis=(0, 1))
    total = np.where(valid, p, 0.0).sum(axis=(0, 1))
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def reliability_bins(confidence: np.ndarray, correct: np.ndarray,
                     num_bins: int = 15) -> Dict[str, np.ndarray]:
    """Calibration (reliability diagram) statistics with equal-width confidence bins.

    Args:
        confidence: (N,) confidence of each prediction in [0, 1] (max softmax probability).
        correct: (N,) whether each prediction was right.
        num_bins: B bins over [0, 1]; a confidence of exactly 1 falls in the last bin.

    Returns:
        dict with ``edges`` (B + 1,), per-bin ``count``, mean ``confidence`` and ``accuracy``
        (B,) (NaN for empty bins) and the expected calibration error ``ece`` (scalar array):
        sum_b count_b / N * |accuracy_b - confidence_b|.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape or conf.ndim != 1:
        raise ValueError(f'confidence {conf.shape} and correct {hit.shape} must be equal 1-d')
    if len(conf) and (conf.min() < 0 or conf.max() > 1):
        raise ValueError('confidence must lie in [0, 1]')
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, num_bins - 1)
    count = np.bincount(idx, minlength=num_bins).astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean_conf = np.bincount(idx, conf, num_bins) / count
        accuracy = np.bincount(idx, hit, num_bins) / count
    gap = np.where(count > 0, np.abs(accuracy - mean_conf), 0.0)
    ece = float((count * gap).sum() / max(len(conf), 1))
    return dict(edges=edges, count=count, confidence=mean_conf, accuracy=accuracy,
                ece=np.asarray(ece))
