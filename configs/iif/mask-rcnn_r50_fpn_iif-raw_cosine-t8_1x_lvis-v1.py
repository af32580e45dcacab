# IIF on a cosine bbox classifier (temperature 8, the reference's setting with IIF), LVIS v1
# Mask R-CNN R50-FPN 1x, RFS off. IIF multiplies the cosine logits (after normalisation).
_base_ = './mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0))))
