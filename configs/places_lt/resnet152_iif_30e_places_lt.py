# Linear classifier + IIF ('smooth', packaged Places-LT counts), ResNet-152 on Places-LT.
_base_ = './resnet152_ce_30e_places_lt.py'

model = dict(head=dict(type='IIFLinearClsHead', iif=dict(variant='smooth', stats='places_lt')))
