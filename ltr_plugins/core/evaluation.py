"""Long-tail evaluation math on plain arrays (shared by the mmpretrain / mmdet metrics)."""
from typing import Dict, Mapping, Sequence

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


#: how a class whose training count equals a threshold is grouped (see :func:`shot_groups`)
SHOT_SPLIT_RULES = ('inclusive', 'exclusive')


def shot_groups(train_counts: np.ndarray, thresholds: Sequence[int] = (20, 100),
                rule: str = 'inclusive',
                names: Sequence[str] = ('few', 'medium', 'many')) -> np.ndarray:
    """Many / medium / few group of each class from its number of training images.

    With ``thresholds = (lo, hi)``:

    - ``'inclusive'`` (default): many ``n >= hi``, few ``n <= lo``, medium ``lo < n < hi``.
      This is the split of the evaluation code behind the published numbers: OLTR's
      ``shot_acc`` (zhmiao/OpenLongTailRecognition-OLTR ``utils.py`` lines 70-73) and VL-LTR's
      (ChangyaoTian/VL-LTR ``engine.py`` lines 184-186: many ``n > 99``, low ``n <= 20``).
    - ``'exclusive'``: many ``n > hi``, few ``n < lo``, medium ``lo <= n <= hi`` (the wording
      "more than 100 / fewer than 20 images" of the papers' text).

    The two differ only for classes with exactly ``lo`` or ``hi`` images (ImageNet-LT: 10
    classes with 20 and 6 with 100 images, 391 / 463 / 146 inclusive vs 385 / 479 / 136
    exclusive).

    Args:
        train_counts: (K,) training image counts.
        thresholds: ``(lo, hi)``, ``lo < hi``.
        rule: ``'inclusive'`` or ``'exclusive'``.
        names: the labels of the (few, medium, many) groups.

    Returns:
        (K,) object array of group names.
    """
    if rule not in SHOT_SPLIT_RULES:
        raise ValueError(f'shot split rule must be one of {SHOT_SPLIT_RULES}, got {rule!r}')
    lo, hi = thresholds
    if not lo < hi:
        raise ValueError(f'shot split thresholds must be (lo, hi) with lo < hi, got {thresholds}')
    n = np.asarray(train_counts)
    if rule == 'inclusive':
        many, few = n >= hi, n <= lo
    else:
        many, few = n > hi, n < lo
    return np.where(many, names[2], np.where(few, names[0], names[1])).astype(object)


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
