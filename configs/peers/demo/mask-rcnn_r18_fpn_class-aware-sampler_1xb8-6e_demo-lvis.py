# Peer: class-aware sampling (Shen et al., Relay Backpropagation, ECCV 2016) with mmdet's own
# ClassAwareSampler (mmdet/datasets/samplers/class_aware_sampler.py): each draw picks a class
# uniformly, then num_sample_class=1 image containing it (mmdet's default, as its reference
# Sense-X/TSD's distributed_classaware_sampler.py); an epoch has as many images as the data set.
# RFS off (oversample_thr=0.0: the sampler is the re-balancing). Same data, model and schedule as
# the demo baseline otherwise.
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

train_dataloader = dict(
    dataset=dict(oversample_thr=0.0),
    sampler=dict(_delete_=True, type='ClassAwareSampler', num_sample_class=1))
