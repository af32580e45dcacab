# Test-only: the LGR RoI classifier in the tiny Mask R-CNN (+ IIF on both branches). The anchor
# file path is given by the test with --cfg-options.
_base_ = './mask_rcnn_tiny.py'

num_classes = 6
# LGRRoIHead + train_class_subset as
# configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py (3 of the 6 classes)
model = dict(roi_head=dict(type='LGRRoIHead', bbox_head=dict(
    cls_predictor_cfg=dict(type='LGRPredictor', anchors='set-by-the-test.safetensors',
                           hidden_ratio=1, train_class_subset=3,
                           iif=dict(variant='raw',
                                    stats='data/tiny/lvis_v1/annotations/lvis_v1_train.json')),
    loss_cls=dict(_delete_=True, type='LGRClsLoss', num_classes=num_classes, alpha=0.5))))
# 24 training / 8 evaluated images: an end-to-end check, not a training run
train_dataloader = dict(dataset=dict(dataset=dict(indices=list(range(0, 200, 8)))))
val_dataloader = dict(dataset=dict(indices=8))
test_dataloader = val_dataloader
