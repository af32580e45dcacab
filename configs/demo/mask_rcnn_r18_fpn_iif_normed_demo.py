# Demo twin of lvis/mask_rcnn_iif_normed.py: IIF on a cosine bbox classifier, temperature 8.
_base_ = './mask_rcnn_r18_fpn_iif_demo.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0))))
