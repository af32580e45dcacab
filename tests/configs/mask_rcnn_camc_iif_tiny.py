# Test-only: CAMC + IIF ('raw') + cosine box classifier on the tiny Mask R-CNN.
_base_ = './mask_rcnn_tiny.py'

model = dict(
    roi_head=dict(
        type='CAMCRoIHead',
        bbox_head=dict(
            type='CAMCShared2FCBBoxHead',
            cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0),
            iif=dict(variant='raw', stats='data/tiny/lvis_v1/annotations/lvis_v1_train.json'),
            camc=dict(lam=1.0, topk=2, momentum=0.9, aux_weight=0.5), camc_scale=8.0)))
