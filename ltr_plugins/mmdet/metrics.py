"""LVIS AP (segm + bbox, incl. APr / APc / APf) plus per-category AP written to csv."""
import os.path as osp
from typing import Callable, Dict, List, Optional

import numpy as np
from mmdet.evaluation.metrics import LVISMetric
from mmdet.registry import METRICS

from ..compat import with_globals
from ..core.evaluation import per_category_ap
from ..datasets import ClassStats
from ..fileio import atomic_write_text, to_csv


def _recording_compute_metrics(evals: List) -> Callable:
    """mmdet's ``LVISMetric.compute_metrics``, its code unchanged, with the evaluator it builds
    (the module-level name ``LVISEval``, mmdet 3.3.0 ``mmdet/evaluation/metrics/lvis_metric.py``
    line 298) replaced by :class:`ltr_plugins.lvis_eval.LVISEval` (works on numpy 2) that also
    appends itself to ``evals`` (its ``precision`` arrays hold the per-category results
    ``compute_metrics`` does not return). mmdet's module is not modified."""
    from ..lvis_eval import LVISEval

    class RecordingLVISEval(LVISEval):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            evals.append(self)

    return with_globals(LVISMetric.compute_metrics, LVISEval=RecordingLVISEval)


@METRICS.register_module()
class LongTailLVISMetric(LVISMetric):
    """mmdet's ``LVISMetric`` (same arguments and results: AP, AP50, AP75, APs/m/l,
    APr / APc / APf per IoU type) that also writes ``per_category_ap_{segm,bbox}.csv``, and
    evaluates with :class:`ltr_plugins.lvis_eval.LVISEval`, so it works on numpy 2 with the
    released ``lvis`` 0.5.3 (mmdet's own ``LVISMetric`` does not) without modifying ``lvis``.

    Each csv row: category id, name, LVIS frequency group (r / c / f), number of training
    images, AP (empty when the category has no ground truth in the evaluated images). The
    mean of the non-empty APs equals the overall AP.

    Args:
        out_dir: where to write the csv files (atomically); ``tools/train.py`` /
            ``tools/test.py`` set it to ``<work_dir>/val`` / ``<work_dir>/test`` unless the
            config sets it. ``None``: no csv.
        train_ann_file: LVIS-format training json to count training images per category.
            Default: the ``image_count`` / ``frequency`` fields the LVIS v1 validation json
            carries for every category (computed on the training set).
        **kwargs: as ``LVISMetric`` (``ann_file``, ``metric``, ...).
    """

    def __init__(self, out_dir: Optional[str] = None, train_ann_file: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.out_dir = out_dir
        self._gt_file = kwargs.get('ann_file')
        self.train_stats = (ClassStats.from_lvis_json(train_ann_file)
                            if train_ann_file else None)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmdet's ``LVISMetric.compute_metrics`` (the LVIS results of ``results``, a list
        of (gt, prediction) pairs), then the per-category csv files when ``out_dir`` is set."""
        evals: List = []
        metrics = _recording_compute_metrics(evals)(self, results)
        if self.out_dir:
            for lvis_eval in evals:
                self._write_csv(lvis_eval)
        return metrics

    def _write_csv(self, lvis_eval) -> None:
        cat_ids = lvis_eval.params.cat_ids
        ap = per_category_ap(lvis_eval.eval['precision'])
        cats = self._lvis_api.load_cats(cat_ids)
        if self.train_stats is not None:
            if self.train_stats.num_classes != len(cats):
                raise ValueError(f'{self.train_stats.source}: {self.train_stats.num_classes} '
                                 f'categories, the evaluated json has {len(cats)}')
            freq = self.train_stats.lvis_frequency()
            counts = [int(c) for c in self.train_stats.image_counts]
        else:
            missing = [c['name'] for c in cats if 'image_count' not in c]
            if missing:
                raise ValueError(f'{self._gt_file}: categories without image_count '
                                 f'(e.g. {missing[0]!r}); pass train_ann_file')
            freq = [c.get('frequency', '') for c in cats]
            counts = [c['image_count'] for c in cats]
        rows = [(c['id'], c['name'], f, n, '' if np.isnan(a) else f'{a:.6f}')
                for c, f, n, a in zip(cats, freq, counts, ap)]
        atomic_write_text(
            osp.join(self.out_dir, f'per_category_ap_{lvis_eval.params.iou_type}.csv'),
            to_csv(('category_id', 'name', 'frequency', 'train_images', 'AP'), rows))
