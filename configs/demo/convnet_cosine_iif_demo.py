# Demo twin of imagenet_lt/resnet50_cosine_iif_90e_imagenet_lt.py: cosine (s = 16) + IIF.
_base_ = './convnet_ce_demo.py'

data_root = 'data/demo/classification/'
model = dict(
    head=dict(type='CosineClsHead', scale=16.0,
              iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt')))
