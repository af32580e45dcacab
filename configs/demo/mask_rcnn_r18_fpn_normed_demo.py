# Demo twin of lvis/mask_rcnn_normed.py: cosine bbox classifier, temperature 20.
_base_ = './mask_rcnn_r18_fpn_demo.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0))))
