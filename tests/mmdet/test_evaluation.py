"""LVIS AP through LongTailLVISMetric (mmdet's LVISMetric with the official lvis evaluator,
working on numpy 2) on hand-built predictions (mmpretrain's LongTailAccuracy:
tests/mmpretrain/test_evaluation_cls.py; the framework-free parts:
tests/core/test_evaluation_core.py)."""
import json

import numpy as np
import pytest
import torch

import ltr_plugins  # noqa: F401


def _gt_predictions(val_json, drop_category=None):
    """Predictions equal to the ground truth of every val image (score 1)."""
    from pycocotools import mask as mask_utils
    data = json.loads(val_json.read_text())
    label_of = {c['id']: i for i, c in enumerate(sorted(data['categories'],
                                                        key=lambda c: c['id']))}
    by_img = {img['id']: (img, []) for img in data['images']}
    for ann in data['annotations']:
        by_img[ann['image_id']][1].append(ann)
    samples = []
    for img, anns in by_img.values():
        anns = [a for a in anns if a['category_id'] != drop_category]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        masks = [mask_utils.decode(a['segmentation']).astype(bool) for a in anns]
        h, w = img['height'], img['width']
        samples.append(dict(
            img_id=img['id'], ori_shape=(h, w),
            pred_instances=dict(
                bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                scores=torch.ones(len(anns)),
                labels=torch.tensor([label_of[a['category_id']] for a in anns],
                                    dtype=torch.long),
                masks=torch.from_numpy(np.stack(masks) if masks else
                                       np.zeros((0, h, w), bool)))))
    return data, samples


def _evaluate(val_json, samples):
    # mmdet's own LVISMetric stops on numpy 2 (lvis 0.5.3 uses np.float); ours (no out_dir:
    # no csv) is LVISMetric's computation with an evaluator that works there
    from ltr_plugins.mmdet import LongTailLVISMetric
    metric = LongTailLVISMetric(ann_file=str(val_json), metric=['bbox', 'segm'])
    metric.dataset_meta = {'classes': tuple(str(i) for i in range(100))}
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_lvis_metric_perfect_predictions_give_ap_1(tiny_data):
    val_json = tiny_data / 'lvis_v1' / 'annotations' / 'lvis_v1_val.json'
    _, samples = _gt_predictions(val_json)
    res = _evaluate(val_json, samples)
    for iou_type in ('bbox', 'segm'):
        for item in ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf'):
            assert res[f'lvis/{iou_type}_{item}'] == pytest.approx(1.0), (iou_type, item)


def test_lvis_metric_missing_rare_class_lowers_ap_by_its_share(tiny_data):
    """Dropping every prediction of one rare class zeroes exactly that class's AP: AP falls to
    (K-1)/K and APr to (R-1)/R, APc / APf stay 1."""
    val_json = tiny_data / 'lvis_v1' / 'annotations' / 'lvis_v1_val.json'
    cats = json.loads(val_json.read_text())['categories']
    rare = [c['id'] for c in cats if c['frequency'] == 'r']
    k, r = len(cats), len(rare)
    _, samples = _gt_predictions(val_json, drop_category=rare[0])
    res = _evaluate(val_json, samples)
    for iou_type in ('bbox', 'segm'):
        assert res[f'lvis/{iou_type}_AP'] == pytest.approx((k - 1) / k, abs=1e-3)
        assert res[f'lvis/{iou_type}_APr'] == pytest.approx((r - 1) / r, abs=1e-3)
        assert res[f'lvis/{iou_type}_APc'] == pytest.approx(1.0)
        assert res[f'lvis/{iou_type}_APf'] == pytest.approx(1.0)


def test_per_category_ap_csv_matches_lvis_and_mmdet_classwise(tiny_data, tmp_path):
    """One rare class dropped, half of one frequent class's predictions given another label:
    the csv's APs equal mmdet's own classwise APs and their mean equals the overall AP."""
    import csv

    from ltr_plugins.mmdet import LongTailLVISMetric
    val_json = tiny_data / 'lvis_v1' / 'annotations' / 'lvis_v1_val.json'
    cats = sorted(json.loads(val_json.read_text())['categories'], key=lambda c: c['id'])
    rare = [c['id'] for c in cats if c['frequency'] == 'r']
    freq = [i for i, c in enumerate(cats) if c['frequency'] == 'f']
    _, samples = _gt_predictions(val_json, drop_category=rare[0])
    flipped = 0
    for s in samples:
        labels = s['pred_instances']['labels']
        for j in range(len(labels)):
            if int(labels[j]) == freq[0] and flipped % 2 == 0:
                labels[j] = freq[1]
            flipped += int(labels[j]) in (freq[0], freq[1])
    metric = LongTailLVISMetric(ann_file=str(val_json), metric=['bbox', 'segm'],
                                classwise=True, out_dir=str(tmp_path))
    metric.dataset_meta = {'classes': tuple(c['name'] for c in cats)}
    metric.process({}, samples)
    res = metric.evaluate(len(samples))
    for iou_type in ('bbox', 'segm'):
        with open(tmp_path / f'per_category_ap_{iou_type}.csv') as f:
            rows = list(csv.DictReader(f))
        assert [int(r['category_id']) for r in rows] == [c['id'] for c in cats]
        assert [r['frequency'] for r in rows] == [c['frequency'] for c in cats]
        assert [int(r['train_images']) for r in rows] == [c['image_count'] for c in cats]
        aps = [float(r['AP']) for r in rows if r['AP']]
        assert np.mean(aps) == pytest.approx(res[f'lvis/{iou_type}_AP'], abs=1e-3)
        by_name = {r['name']: float(r['AP']) for r in rows if r['AP']}
        assert by_name[next(c['name'] for c in cats if c['id'] == rare[0])] == 0.0
        assert 0.0 < by_name[cats[freq[0]]['name']] < 1.0
        for name, ap in by_name.items():  # mmdet's classwise loop, rounded to 3 decimals
            assert res[f'lvis/{name}_precision'] == pytest.approx(ap, abs=6e-4)
