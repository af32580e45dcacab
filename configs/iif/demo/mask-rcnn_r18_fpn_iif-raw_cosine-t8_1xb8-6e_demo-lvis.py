# Demo twin of iif/mask-rcnn_r50_fpn_iif-raw_cosine-t8_1x_lvis-v1.py: IIF on a cosine bbox
# classifier, temperature 8.
_base_ = './mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0))))
