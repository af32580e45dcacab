# Demo twin of baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py on the embedded LVIS-format data
# (12 glyph classes: 4 rare / 4 common / 4 frequent, 128 px). It differs only in data root, image
# size, backbone (ResNet-18 from scratch, 64-channel FPN and heads: no pretrained weights offline),
# RPN proposal counts and mask resolution sized for a 128-px image, schedule (AdamW, 6 epochs),
# augmentation (no flip: glyphs are not mirror-symmetric, a flipped 'b' is a 'd') and detections
# kept per test image (100, not LVIS' 300). A few minutes on 2 CPU cores.
_base_ = '../mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'

# Generated on first use by tools/train.py / tools/test.py (ltr_plugins.datasets.generator).
embedded_data = dict(preset='demo', root='data/demo', seed=0)
data_root = 'data/demo/lvis_v1/'
num_classes = 12
image_size = (128, 128)

model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        # sampling_ratio=1: mmcv's CPU RoIAlign backward with adaptive sampling dominates a step.
        bbox_roi_extractor=dict(out_channels=64, roi_layer=dict(sampling_ratio=1)),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=num_classes),
        # 7x7 mask RoIs, 14x14 masks (LVIS: 14 -> 28): the demo's objects are 22-59 px (median
        # 37 x 41), so 14x14 is about their own resolution; the mask head, about 40% of a step's
        # FLOPs at 14x14 RoIs, runs on 4x fewer pixels. Over 6 seeds no segm metric moved
        # (docs/benchmarks/README.md, "The demo detector sized for its images").
        mask_roi_extractor=dict(out_channels=64,
                                roi_layer=dict(output_size=7, sampling_ratio=1)),
        mask_head=dict(roi_feat_size=7, in_channels=64, conv_out_channels=64,
                       num_classes=num_classes)),
    # A 128-px image has ~4,100 anchors in all: LVIS' 2000 boxes per level before NMS and 1000
    # proposals per image make NMS sort ~3,000 boxes for a sampler that keeps 64 RoIs.
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=250),
                   rcnn=dict(sampler=dict(num=64), mask_size=14)),
    # LVIS keeps 300 detections per image for 1203 classes (0.25 per class); 100 for 12 classes
    # is still 8 per class, and an image holds at most 4 objects. The mask head on 300 RoIs per
    # image was 2/3 of a test (85 s -> 38 s on 2 cores); on the seed-0 CE model segm AP / APr
    # stay 16.6 / 0.4 (APf 29.6 -> 29.5), box AP 25.0 -> 24.7, box APr 7.2 -> 6.1
    # (docs/benchmarks/README.md, "Detections per test image").
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=250), rcnn=dict(max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(dataset=dict(data_root=data_root, pipeline=train_pipeline,
                              filter_cfg=dict(filter_empty_gt=True, min_size=4))))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator

max_epochs = 6
# No validation during training (LVIS evaluation of 150 images takes ~2 min on 2 cores):
# evaluate the final checkpoint with tools/test.py.
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[5], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=1e-4))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
