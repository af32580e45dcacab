"""Evaluators on hand-built predictions: LVIS AP through mmdet's LVISMetric (official lvis
evaluator) and top-1 / many / medium / few through LongTailAccuracy."""
import json

import numpy as np
import pytest
import torch

import ltr_plugins  # noqa: F401  (lvis numpy fix)


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
    from mmdet.evaluation import LVISMetric
    metric = LVISMetric(ann_file=str(val_json), metric=['bbox', 'segm'])
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


def _lt_samples(preds, gts):
    return [dict(pred_label=torch.tensor([p]), gt_label=torch.tensor([g]))
            for p, g in zip(preds, gts)]


def test_long_tail_accuracy_on_hand_made_predictions():
    from ltr_plugins.mmpretrain import LongTailAccuracy
    # class 0 many (150 train images), 1 medium (50), 2 and 3 few (5, 1)
    metric = LongTailAccuracy(class_counts=[150, 50, 5, 1])
    gts = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]
    preds = [0, 0, 0, 1, 1, 0, 2, 0, 0, 0]
    metric.process({}, _lt_samples(preds, gts))
    res = metric.evaluate(len(gts))
    assert res['accuracy/top1'] == pytest.approx(50.0)          # 5 / 10 samples
    assert res['accuracy/many'] == pytest.approx(75.0)          # class 0: 3/4
    assert res['accuracy/medium'] == pytest.approx(50.0)        # class 1: 1/2
    assert res['accuracy/few'] == pytest.approx(25.0)           # mean(1/2, 0/2): class mean


def test_long_tail_accuracy_rejects_labels_beyond_training_classes():
    from ltr_plugins.mmpretrain import LongTailAccuracy
    metric = LongTailAccuracy(class_counts=[150, 50])
    metric.process({}, _lt_samples([0, 1], [0, 2]))
    with pytest.raises(ValueError, match='2 classes but the evaluated set has label 2'):
        metric.evaluate(2)


def test_long_tail_accuracy_counts_from_train_annotation(tmp_path):
    from ltr_plugins.mmpretrain import LongTailAccuracy
    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'a/{i}.png 0\n' for i in range(101)) + 'b/0.png 1\n')
    metric = LongTailAccuracy(train_ann_file=str(ann))
    metric.process({}, _lt_samples([0, 0], [0, 1]))
    res = metric.evaluate(2)
    assert res['accuracy/many'] == 100.0 and res['accuracy/few'] == 0.0
    assert 'accuracy/medium' not in res
