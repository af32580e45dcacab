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
