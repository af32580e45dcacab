# CAMC (reconstructed, docs/methods/camc.md) on the RoI feature maps of Mask R-CNN R50-FPN 1x,
# LVIS v1, RFS: the 256 x 7 x 7 RoI map is calibrated with the CAMs of an RoI-level cosine
# classifier (1203 + 1 columns, s = 20, the head's default) and the class prototypes before the
# shared FCs; the box classifier is the scaled cosine one (tau = 20), as
# cosine/mask-rcnn_r50_fpn_cosine-t20_sample1e-3_1x_lvis-v1.py. CAMC options: CAMCalibration's
# defaults (set them with bbox_head.camc=dict(...)). CAMCRoIHead hands the sampled RoIs' labels
# to the bbox head (training target = ground truth).
_base_ = '../cosine/mask-rcnn_r50_fpn_cosine-t20_sample1e-3_1x_lvis-v1.py'

model = dict(roi_head=dict(type='CAMCRoIHead', bbox_head=dict(type='CAMCShared2FCBBoxHead')))
