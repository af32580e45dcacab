"""LongTailAccuracy (mmpretrain evaluator): top-1 / many / medium / few on hand-built
predictions, class counts from the training list, the per-class and prediction csv files."""
import pytest
import torch

import ltr_plugins  # noqa: F401


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
