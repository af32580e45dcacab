# CAMC + IIF + cosine box classifier (tau = 8), LVIS v1 Mask R-CNN R50-FPN 1x, RFS off: as
# iif/mask-rcnn_r50_fpn_iif-raw_cosine-t8_1x_lvis-v1.py with the RoI maps calibrated by CAMC
# (CAMCalibration's defaults). IIF ('raw', background weight 1) multiplies the logits of both
# passes, so the first pass that picks the inference CAMs (top-k) is IIF-adjusted too; the
# RoI-level CAM classifier uses s = 8 as well.
_base_ = '../iif/mask-rcnn_r50_fpn_iif-raw_cosine-t8_1x_lvis-v1.py'

model = dict(
    roi_head=dict(type='CAMCRoIHead',
                  bbox_head=dict(type='CAMCShared2FCBBoxHead', camc_scale=8.0)))
