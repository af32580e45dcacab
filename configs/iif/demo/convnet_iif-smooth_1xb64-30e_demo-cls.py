# Demo twin of iif/resnet50_iif-smooth_4xb128-90e_imagenet-lt.py: linear + IIF ('smooth'), counts
# computed on the fly from the training list.
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
model = dict(
    head=dict(type='IIFLinearClsHead',
              iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt')))
