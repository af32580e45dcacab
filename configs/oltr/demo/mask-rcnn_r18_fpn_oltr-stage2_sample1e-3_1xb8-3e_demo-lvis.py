# Demo twin of oltr/mask-rcnn_r50_fpn_oltr-stage2_sample1e-3_1x_lvis-v1.py: OLTR's meta-embedding
# bbox head (visual memory over the 12 foreground classes, background as an ordinary logit)
# fine-tuned for 3 epochs from the plain demo Mask R-CNN (stage 1 =
# mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py; hallucinator and background logit initialised
# from its fc_cls). Centroids <- class means of the GT-box RoI features of the training set
# (OLTRCentroidInitHook, test transforms). AdamW as the demo's stage 1 (the centroids, too, step
# with AdamW here: one optimiser type per run in mmengine).
#   python tools/train.py configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py
#   python tools/train.py \
#       configs/oltr/demo/mask-rcnn_r18_fpn_oltr-stage2_sample1e-3_1xb8-3e_demo-lvis.py \
#       --cfg-options load_from=<stage-1 work dir>/epoch_6.pth
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

model = dict(
    roi_head=dict(
        type='LabelAwareRoIHead',  # hands the direct features to the centroid loss
        bbox_head=dict(type='OLTRShared2FCBBoxHead', centroid_loss_weight=0.01,
                       open_set_threshold=None, init_hallucinator_from='fc_cls')))
custom_hooks = [dict(type='OLTRCentroidInitHook')]

max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1)
]
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),  # stage-1 features: fine-tuned at 1/10 of the head lr
        'neck': dict(lr_mult=0.1),
        'roi_head.bbox_head.loss_centroid.centroids': dict(lr_mult=1.0, decay_mult=0.0),
    }))
default_hooks = dict(checkpoint=dict(interval=max_epochs))
load_from = 'work_dirs/benchmark_lt/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis/epoch_6.pth'
