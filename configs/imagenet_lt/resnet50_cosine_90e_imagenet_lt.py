# Normalized scaled (cosine) classifier, s = 16, ResNet-50 on ImageNet-LT.
_base_ = './resnet50_ce_90e_imagenet_lt.py'

model = dict(head=dict(type='CosineClsHead', scale=16.0))
