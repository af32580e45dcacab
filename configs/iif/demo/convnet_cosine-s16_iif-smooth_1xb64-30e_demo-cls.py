# Demo twin of iif/resnet50_cosine-s16_iif-smooth_4xb128-90e_imagenet-lt.py: cosine (s = 16) + IIF.
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
model = dict(
    head=dict(type='CosineClsHead', scale=16.0,
              iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt')))
