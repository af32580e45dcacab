# Demo twin of camc/mask-rcnn_r50_fpn_camc_iif-raw_cosine-t8_1x_lvis-v1.py: CAMC + IIF ('raw') +
# cosine box classifier (tau = 8).
_base_ = '../../iif/demo/mask-rcnn_r18_fpn_iif-raw_cosine-t8_1xb8-6e_demo-lvis.py'

model = dict(
    roi_head=dict(type='CAMCRoIHead',
                  bbox_head=dict(type='CAMCShared2FCBBoxHead', camc_scale=8.0)))
