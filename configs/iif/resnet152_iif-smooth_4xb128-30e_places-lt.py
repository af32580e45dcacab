# Linear classifier + IIF ('smooth', packaged Places-LT counts), ResNet-152 on Places-LT.
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

model = dict(head=dict(type='IIFLinearClsHead', iif=dict(variant='smooth', stats='places_lt')))
