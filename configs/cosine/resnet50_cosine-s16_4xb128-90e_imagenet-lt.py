# Normalized scaled (cosine) classifier, s = 16, ResNet-50 on ImageNet-LT.
_base_ = '../baselines/resnet50_4xb128-90e_imagenet-lt.py'

model = dict(head=dict(type='CosineClsHead', scale=16.0))
