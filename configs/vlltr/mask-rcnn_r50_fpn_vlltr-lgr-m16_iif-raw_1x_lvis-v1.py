# mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py + IIF ('raw', packaged LVIS v1 image
# counts) on both LGR branches' logits (background weight 1.0), RFS off as in the IIF configs.
_base_ = './mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py'

train_dataloader = dict(dataset=dict(oversample_thr=0.0))
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(iif=dict(variant='raw', stats='lvis_v1')))))
