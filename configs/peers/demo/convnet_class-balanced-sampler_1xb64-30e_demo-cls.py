# Peer: class-balanced sampling (Kang et al., ICLR 2020, Sec. 3: a class uniformly, then an image
# of it) with mmdet's own ClassAwareSampler on the mmpretrain data set (it reads get_cat_ids,
# which mmpretrain's datasets have), 4 images per class draw as the reference's
# config/ImageNet_LT/feat_balance.yaml (facebookresearch/classifier-balancing,
# ClassAwareSampler num_samples_cls=4). An epoch has as many images as the data set. Same data,
# model and schedule as the demo CE baseline.
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

train_dataloader = dict(
    sampler=dict(_delete_=True, type='mmdet.ClassAwareSampler', num_sample_class=4))
