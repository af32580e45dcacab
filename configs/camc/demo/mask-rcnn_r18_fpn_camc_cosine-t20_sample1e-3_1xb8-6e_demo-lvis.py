# Demo twin of camc/mask-rcnn_r50_fpn_camc_cosine-t20_sample1e-3_1x_lvis-v1.py: CAMC
# (CAMCalibration's defaults, RoI-level CAM classifier s = 20) on the 64 x 7 x 7 RoI maps +
# cosine box classifier (tau = 20) on the embedded LVIS-format data.
_base_ = '../../cosine/demo/mask-rcnn_r18_fpn_cosine-t20_sample1e-3_1xb8-6e_demo-lvis.py'

model = dict(roi_head=dict(type='CAMCRoIHead', bbox_head=dict(type='CAMCShared2FCBBoxHead')))
