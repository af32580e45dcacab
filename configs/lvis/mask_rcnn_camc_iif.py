# CAMC + IIF + cosine box classifier (tau = 8), LVIS v1 Mask R-CNN R50-FPN 1x, RFS off: as
# configs/lvis/mask_rcnn_iif_normed.py with the RoI maps calibrated by CAMC. IIF ('raw',
# background weight 1) multiplies the logits of both passes, so the first pass that picks the
# inference CAMs (top-k) is IIF-adjusted too; the RoI-level CAM classifier uses s = 8 as well.
_base_ = './mask_rcnn_iif_normed.py'

camc = dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean', detach_map=True,
            aux_weight=0.5)
model = dict(
    roi_head=dict(
        type='CAMCRoIHead',
        bbox_head=dict(type='CAMCShared2FCBBoxHead', camc=camc, camc_scale=8.0)))
