# CAMC (class activation map calibration, reconstructed; docs/methods/camc.md) + the scaled cosine
# classifier (s = 16), ResNet-50 on ImageNet-LT. No pooling neck: CAMCClsHead takes the
# 2048 x 7 x 7 map, calibrates it with the CAMs of its own classifier and the class
# prototypes, then pools. Loss: CE on the calibrated logits + 0.5 x CE on the uncalibrated ones.
_base_ = './resnet50_cosine_90e_imagenet_lt.py'

model = dict(
    neck=None,
    head=dict(
        type='CAMCClsHead',
        scale=16.0,
        camc=dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean',
                  detach_map=True, aux_weight=0.5)))
