# Demo twin of lvis/mask_rcnn_camc.py: CAMC on the 64 x 7 x 7 RoI maps + cosine box
# classifier (tau = 20) on the embedded LVIS-format data.
_base_ = './mask_rcnn_r18_fpn_normed_demo.py'

camc = dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean', detach_map=True,
            aux_weight=0.5)
model = dict(
    roi_head=dict(
        type='CAMCRoIHead',
        bbox_head=dict(type='CAMCShared2FCBBoxHead', camc=camc, camc_scale=20.0)))
