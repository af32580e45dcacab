# Demo twin of imagenet_lt/resnet50_camc_90e_imagenet_lt.py (and places_lt/resnet152_camc_*):
# CAMC + cosine classifier (s = 16). SmallConvNet returns its 256 x 4 x 4 map (32 px input,
# 1/8 resolution) un-pooled; neck=None hands it to CAMCClsHead, which pools after calibrating.
_base_ = './convnet_cosine_demo.py'

model = dict(
    neck=None,
    head=dict(
        type='CAMCClsHead',
        scale=16.0,
        camc=dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean',
                  detach_map=True, aux_weight=0.5)))
