# A foreign project's config: it inherits mmdet's own LVIS v1 Mask R-CNN config and adds only
# the plugin (custom_imports) and an ltr_plugins head (IIF on the box classifier). The rest
# shrinks the model and schedule to the embedded demo data so it trains on a CPU in minutes:
#   python -m ltr_plugins.datasets.generator --preset demo --out data/demo
#   MMDET=$(python -c "import mmdet,os;print(os.path.dirname(mmdet.__file__))")
#   python $MMDET/.mim/tools/train.py \
#       configs/mask_rcnn_r18_iif_embedded.py
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)
# mmengine 0.10 checkpoints on torch >= 2.6: the plugin's allow-list loader (+ atomic writes)
# for this run (importing the plugin changes nothing in mmengine)
custom_hooks = [dict(type='CheckpointFixesHook')]

data_root = 'data/demo/lvis_v1/'
num_classes = 12
image_size = (128, 128)

model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, roi_layer=dict(sampling_ratio=1)),
        bbox_head=dict(
            type='IIFShared2FCBBoxHead',  # <- the ltr_plugins head
            iif=dict(variant='raw', stats=data_root + 'annotations/lvis_v1_train.json'),
            in_channels=64, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=64, roi_layer=dict(sampling_ratio=1)),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=num_classes)),
    train_cfg=dict(rcnn=dict(sampler=dict(num=64))))

# mmdet's LVISV1Dataset hard-codes the 1203 LVIS names; LVISV1JsonDataset (ltr_plugins) reads
# the class names from the json, as the embedded data has its own classes.
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(dataset=dict(type='LVISV1JsonDataset', data_root=data_root, pipeline=pipeline)))
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(type='LVISV1JsonDataset', data_root=data_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=image_size, keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]))
test_dataloader = val_dataloader
# ltr_plugins' LVIS metric: mmdet's LVISMetric (same results) + per-category AP csv, with an
# evaluator that works on numpy 2 (mmdet's own stops there: lvis 0.5.3 uses np.float)
val_evaluator = dict(type='LongTailLVISMetric', ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator

max_epochs = 6
# no validation during training (LVIS eval of 150 images takes minutes on a CPU): test after
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[5], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=1e-4))
default_hooks = dict(checkpoint=dict(interval=max_epochs))
