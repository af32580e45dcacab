# Ablation of mask-rcnn_r18_fpn_camc_cosine-t20_sample1e-3_1xb8-6e_demo-lvis.py: CAMC calibrates
# training RoIs towards the first pass's probability-weighted top-k classes, exactly as at inference
# (train_target='pred'), instead of towards the ground truth; labels then only feed the class
# prototypes.
_base_ = './mask-rcnn_r18_fpn_camc_cosine-t20_sample1e-3_1xb8-6e_demo-lvis.py'

model = dict(roi_head=dict(bbox_head=dict(camc=dict(train_target='pred'))))
