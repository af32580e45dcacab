# Cosine classifier (s = 16) + IIF 'smooth' on its logits (the reference's classification
# setting), ResNet-50 on ImageNet-LT.
_base_ = '../baselines/resnet50_4xb128-90e_imagenet-lt.py'

model = dict(
    head=dict(type='CosineClsHead', scale=16.0,
              iif=dict(variant='smooth', stats='imagenet_lt')))
