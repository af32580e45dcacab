# Demo twin of lvis/mask_rcnn_camc_iif.py: CAMC + IIF ('raw') + cosine box classifier (tau = 8).
_base_ = './mask_rcnn_r18_fpn_iif_normed_demo.py'

camc = dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean', detach_map=True,
            aux_weight=0.5)
model = dict(
    roi_head=dict(
        type='CAMCRoIHead',
        bbox_head=dict(type='CAMCShared2FCBBoxHead', camc=camc, camc_scale=8.0)))
