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


#: label of an open-set ("unknown") sample, and the prediction of a rejected one
UNKNOWN = -1


def reject_by_confidence(pred: np.ndarray, max_prob: np.ndarray,
                         threshold: float) -> np.ndarray:
    """``pred`` with ``UNKNOWN`` (-1) where the maximum softmax probability ``max_prob`` is below
    ``threshold`` (OLTR's open-set rule, threshold 0.1; no distance test)."""
    return np.where(np.asarray(max_prob) < threshold, UNKNOWN, np.asarray(pred))


def open_set_f_measure(pred: np.ndarray, gt: np.ndarray,
                       rejected_known_is_fp: bool = True) -> Dict[str, float]:
    """Open-set F-measure (OLTR).

    TP: known samples (``gt >= 0``) predicted correctly. FP: known samples predicted wrongly,
    including those rejected (``pred == -1``) unless ``rejected_known_is_fp`` is False. FN: open
    samples (``gt == -1``) predicted as a known class; rejected open samples count nowhere.
    ``P = TP / (TP + FP)``, ``R = TP / (TP + FN)``, ``F = 2PR / (P + R)`` (0 where undefined).

    Returns:
        dict with ``f_measure``, ``precision``, ``recall``.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    known = gt != UNKNOWN
    tp = int(((pred == gt) & known).sum())
    wrong_known = (pred != gt) & known
    if not rejected_known_is_fp:
        wrong_known &= pred != UNKNOWN
    fp = int(wrong_known.sum())
    fn = int(((pred != UNKNOWN) & ~known).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(f_measure=f, precision=precision, recall=recall)


def macro_f1(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> float:
    """Macro-averaged F1 over the classes present in ``gt`` or ``pred`` (as sklearn's
    ``f1_score(average='macro')``: a class with TP = 0 but FP or FN > 0 scores 0)."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    scores = []
    for c in range(num_classes):
        tp = int(((pred == c) & (gt == c)).sum())
        fp = int(((pred == c) & (gt != c)).sum())
        fn = int(((pred != c) & (gt == c)).sum())
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0
