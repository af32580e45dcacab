"""tools/benchmark_detector.py (ltr_plugins.benchmarking.detector): the synthetic batch and the
detectors it builds (the timing itself is never asserted)."""

import pytest
import torch


@pytest.fixture(scope='module')
def bdet():
    from ltr_plugins.benchmarking import detector
    return detector


def test_synthetic_batch_has_four_classes_per_image_and_box_masks(bdet):
    batch = bdet.synthetic_batch(3, 64, 10, 50, torch.Generator().manual_seed(0))
    assert len(batch['inputs']) == len(batch['data_samples']) == 3
    for img, sample in zip(batch['inputs'], batch['data_samples']):
        assert img.shape == (3, 64, 64) and img.dtype == torch.uint8
        gt = sample.gt_instances
        assert len(gt) == 10 and len(set(gt.labels.tolist())) <= bdet.CLASSES_PER_IMAGE
        assert ((gt.bboxes[:, 2:] > gt.bboxes[:, :2]).all() and (gt.bboxes >= 0).all()
                and (gt.bboxes <= 63).all())
        # each mask is exactly its box's pixels
        areas = torch.from_numpy(gt.masks.masks).flatten(1).sum(1)
        box = gt.bboxes.long()
        assert areas.tolist() == ((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])).tolist()


def test_build_sets_the_class_count_and_anchor_file(bdet, tmp_path):
    name, config, options = bdet.CASES[-1]  # LGR, all classes in training
    model = bdet.build(config, options, 7, str(tmp_path))
    head = model.roi_head.bbox_head
    assert type(model.roi_head).__name__ == 'LGRRoIHead'
    assert head.num_classes == 7 and model.roi_head.mask_head.num_classes == 7
    assert head.fc_cls.num_classes == 7 and head.fc_cls.train_class_subset is None
    assert tuple(head.fc_cls.lgr.anchors.shape) == (7, 16, 512)
    stock = bdet.build(bdet.CASES[0][1], {}, 7, str(tmp_path))
    assert stock.roi_head.bbox_head.fc_cls.out_features == 8  # 7 classes + background
    # random weights (mmdet's default Kaiming init), no Pretrained checkpoint to download
    assert 'Pretrained' not in str(stock.backbone.init_cfg)


def test_configs_share_backbone_neck_rpn_and_sampled_rois(bdet, tmp_path):
    """Every config is timed on the same proposals and sampled RoIs: identical shared weights,
    and seeded training steps give identical RPN losses and sampled RoIs."""
    stock = bdet.build(bdet.CASES[0][1], {}, 7, str(tmp_path))
    oltr = bdet.build('configs/oltr/mask-rcnn_r50_fpn_oltr-stage2_sample1e-3_1x_lvis-v1.py', {}, 7,
                      str(tmp_path))
    a, b = stock.state_dict(), oltr.state_dict()
    shared = [k for k in a if k.split('.')[0] in ('backbone', 'neck', 'rpn_head')]
    assert len(shared) > 100 and all(torch.equal(a[k], b[k]) for k in shared)
    batch = bdet.synthetic_batch(1, 64, 4, 7, torch.Generator().manual_seed(0))
    losses, sampled = [], []
    for model in (stock, oltr):
        bbox_loss = model.roi_head.bbox_loss

        def spy(x, sampling_results, bbox_loss=bbox_loss):
            sampled.append([(r.pos_priors, r.neg_priors) for r in sampling_results])
            return bbox_loss(x, sampling_results)

        model.roi_head.bbox_loss = spy
        model.train()
        data = model.data_preprocessor(batch, True)
        torch.manual_seed(1000)
        losses.append(model.loss(data['inputs'], data['data_samples']))
    for key in ('loss_rpn_cls', 'loss_rpn_bbox'):
        assert torch.equal(sum(losses[0][key]), sum(losses[1][key])), key
    (pos0, neg0), = sampled[0]
    (pos1, neg1), = sampled[1]
    assert len(pos0) > 0 and torch.equal(pos0, pos1) and torch.equal(neg0, neg1)
