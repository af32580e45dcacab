# Linear classifier + IIF (end-to-end), ResNet-50 on ImageNet-LT, weights from the packaged
# ImageNet-LT counts. Variant 'smooth' as in the reference's classification runs.
_base_ = './resnet50_ce_90e_imagenet_lt.py'

model = dict(head=dict(type='IIFLinearClsHead', iif=dict(variant='smooth', stats='imagenet_lt')))
