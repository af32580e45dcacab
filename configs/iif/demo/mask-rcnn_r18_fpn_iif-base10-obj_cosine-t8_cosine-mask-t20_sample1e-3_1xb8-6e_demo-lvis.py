# Demo twin of
# iif/mask-rcnn_r50_fpn_iif-base10-obj_cosine-t8_cosine-mask-t20_sample1e-3_2x_lvis-v1.py, the
# reference's enhanced recipe: RFS t=1e-3 (kept from the baseline; it repeats nothing on the
# demo data, see peers/README.md), cosine bbox classifier tau=8, cosine mask predictor tau=20,
# IIF 'base10_obj' (instance counts from the training json); the demo baseline's schedule
# (6 epochs, not 2x), like every demo twin.
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

data_root = 'data/demo/lvis_v1/'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='IIFShared2FCBBoxHead',
            iif=dict(variant='base10_obj', stats=data_root + 'annotations/lvis_v1_train.json'),
            cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0),
            init_cfg=dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls'))),
        mask_head=dict(predictor_cfg=dict(type='CosineConv2d', scale=20.0))))
