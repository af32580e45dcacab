# Demo twin of cosine/mask-rcnn_r50_fpn_cosine-t20_sample1e-3_1x_lvis-v1.py: cosine bbox classifier,
# temperature 20.
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0))))
