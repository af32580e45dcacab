# Normalized scaled (cosine) bbox classifier, temperature 20 (as mmdet's NormedLinear in its
# Seesaw configs), on LVIS v1 Mask R-CNN R50-FPN 1x with RFS.
_base_ = '../baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0))))
