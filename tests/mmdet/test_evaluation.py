"""Evaluators on hand-built predictions: LVIS AP through LongTailLVISMetric (mmdet's
LVISMetric with the official lvis evaluator, working on numpy 2) and top-1 / many / medium /
few through LongTailAccuracy."""
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


def test_per_category_ap_on_hand_built_precision():
    from ltr_plugins.core.evaluation import per_category_ap
    p = -np.ones((2, 3, 3, 2))           # T=2, R=3, K=3, A=2; category 2 has no ground truth
    p[:, :, 0, 0] = [[1.0, 0.5, 0.0], [1.0, 1.0, 0.5]]
    p[:, :, 1, 0] = 0.25
    p[:, :, :2, 1] = 0.9                 # another area range: ignored
    ap = per_category_ap(p)
    assert ap[0] == pytest.approx(4.0 / 6) and ap[1] == pytest.approx(0.25)
    assert np.isnan(ap[2])
    valid = p[:, :, :, 0]
    assert np.nanmean(ap) == pytest.approx(valid[valid > -1].mean())  # = the LVIS AP formula


def test_reliability_bins_hand_computed():
    from ltr_plugins.core.evaluation import reliability_bins
    conf = np.array([0.05, 0.1, 0.95, 1.0, 0.55])
    hit = np.array([0, 1, 1, 1, 0])
    r = reliability_bins(conf, hit, num_bins=10)
    assert r['count'].tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]   # (lo, hi] bins, 0 in the 1st
    assert r['confidence'][0] == pytest.approx(0.075) and r['accuracy'][0] == 0.5
    assert r['accuracy'][9] == 1.0 and np.isnan(r['accuracy'][1])
    # ECE = (2 * |0.5 - 0.075| + 1 * |0 - 0.55| + 2 * |1 - 0.975|) / 5
    assert float(r['ece']) == pytest.approx((2 * 0.425 + 0.55 + 2 * 0.025) / 5)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        reliability_bins(np.array([1.5]), np.array([1]))


def test_long_tail_accuracy_writes_per_class_and_prediction_csv(tmp_path):
    import csv

    from ltr_plugins.mmpretrain import LongTailAccuracy
    metric = LongTailAccuracy(class_counts=[150, 50, 5], out_dir=str(tmp_path))
    metric.dataset_meta = {'classes': ('cat', 'dog, big', 'emu')}
    scores = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    gts = [0, 1, 1, 0]
    metric.process({}, [dict(pred_score=s, gt_label=torch.tensor([g]))
                        for s, g in zip(scores, gts)])
    res = metric.evaluate(4)
    assert res['accuracy/top1'] == pytest.approx(50.0)
    with open(tmp_path / 'per_class_accuracy.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == ['cat', 'dog, big', 'emu']
    assert [r['split'] for r in rows] == ['many', 'medium', 'few']
    assert [r['train_images'] for r in rows] == ['150', '50', '5']
    assert [r['test_samples'] for r in rows] == ['2', '2', '0']
    assert [r['accuracy'] for r in rows] == ['50.0000', '50.0000', '']
    with open(tmp_path / 'predictions.csv') as f:
        preds = list(csv.DictReader(f))
    assert [(int(p['label']), int(p['prediction'])) for p in preds] == [
        (0, 0), (1, 1), (1, 0), (0, 2)]
    assert [float(p['confidence']) for p in preds] == pytest.approx([0.7, 0.8, 0.6, 0.6])
