# Linear classifier + IIF (end-to-end), ResNet-50 on ImageNet-LT, weights from the packaged
# ImageNet-LT counts. Variant 'smooth' as in the reference's classification runs.
_base_ = '../baselines/resnet50_4xb128-90e_imagenet-lt.py'

model = dict(head=dict(type='IIFLinearClsHead', iif=dict(variant='smooth', stats='imagenet_lt')))
