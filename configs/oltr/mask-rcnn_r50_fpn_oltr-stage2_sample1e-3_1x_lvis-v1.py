# OLTR's dynamic meta-embedding as the Mask R-CNN bbox classifier on LVIS v1 (this product's
# instance-level extension): stage 1 is the plain Mask R-CNN R50-FPN 1x
# (mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py); stage 2 loads it (hallucinator and background logit
# from its fc_cls), sets the 1203 foreground centroids to the class means of the GT-box RoI features
# (1024-d shared fc output) and fine-tunes 12 epochs with CE + 0.01 x centroid loss on the positive
# RoIs: heads lr 0.02, backbone / neck 0.002, centroids 0.01 (SGD m 0.9, wd 1e-4; centroids wd 5e-4
# as OLTR).
_base_ = '../baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        type='LabelAwareRoIHead',  # hands the direct features to the centroid loss
        bbox_head=dict(type='OLTRShared2FCBBoxHead', centroid_loss_weight=0.01,
                       open_set_threshold=None, init_hallucinator_from='fc_cls')))
custom_hooks = [dict(type='OLTRCentroidInitHook')]
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'neck': dict(lr_mult=0.1),
        'roi_head.bbox_head.loss_centroid.centroids': dict(lr_mult=0.5, decay_mult=5.0),
    }))
# the stage-1 checkpoint
load_from = 'work_dirs/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1/epoch_12.pth'
