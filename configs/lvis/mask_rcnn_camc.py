# CAMC (reconstructed, docs/methods/camc.md) on the RoI feature maps of Mask R-CNN R50-FPN 1x,
# LVIS v1, RFS: the 256 x 7 x 7 RoI map is calibrated with the CAMs of an RoI-level cosine
# classifier (1203 + 1 columns, s = 20) and the class prototypes before the shared FCs; the
# box classifier is the scaled cosine one (tau = 20), as configs/lvis/mask_rcnn_normed.py.
# CAMCRoIHead hands the sampled RoIs' labels to the bbox head (training target = ground truth).
_base_ = './mask_rcnn_normed.py'

camc = dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean', detach_map=True,
            aux_weight=0.5)
model = dict(
    roi_head=dict(
        type='CAMCRoIHead',
        bbox_head=dict(type='CAMCShared2FCBBoxHead', camc=camc, camc_scale=20.0)))
