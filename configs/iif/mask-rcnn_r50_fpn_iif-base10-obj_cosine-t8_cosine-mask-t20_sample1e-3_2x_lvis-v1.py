# The reference's enhanced recipe behind its headline LVIS v1 result (mask AP 26.3, APr 18.6):
# RFS t=1e-3, cosine bbox classifier tau=8, normalized conv mask predictor tau=20, IIF variant
# 'base10_obj' (instance counts), 24 epochs with steps at 16 and 22, 16 images per batch.
# Difference: the reference also used FASA feature augmentation, which is not part of this
# package, so expect somewhat lower numbers.
# Reference: kostas1515/iif instance_segmentation/configs/fasa/
# fasa_iof_base10_r50_rfs_cos_norm_4x4_2x.py (bbox_head cls_predictor_cfg NormedLinear
# tempearture=8, mask_head NormedConv2d tempearture=20, FasaIIFLoss variant 'base10_obj'). Its
# bbox head has no init_cfg, so mmdet's default applies (fc_cls normal(0, 0.01) / bias 0, fc_reg
# normal(0, 0.001), shared FCs Xavier), and NormedLinear has a learned bias: both as here.
_base_ = '../baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='IIFShared2FCBBoxHead',
            iif=dict(variant='base10_obj', stats='lvis_v1'),
            cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0, bias=True,
                                   init_std=0.01)),
        mask_head=dict(predictor_cfg=dict(type='CosineConv2d', scale=20.0))))

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[16, 22],
         gamma=0.1)
]
