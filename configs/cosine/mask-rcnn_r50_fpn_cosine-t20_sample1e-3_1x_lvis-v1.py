# Normalized scaled (cosine) bbox classifier, temperature 20 (as mmdet's NormedLinear in its
# Seesaw configs), on LVIS v1 Mask R-CNN R50-FPN 1x with RFS. NormedLinear is an nn.Linear, so it
# has a learned bias added after the scaled cosine, and is initialised normal(0, 0.01) / bias 0
# (mmdet/models/layers/normed_predictor.py, NormedLinear.init_weights); the bbox head's default
# init_cfg (Normal 0.01 on fc_cls) does the same.
_base_ = '../baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(cls_predictor_cfg=dict(
            type='CosineClassifier', scale=20.0, bias=True, init_std=0.01))))
