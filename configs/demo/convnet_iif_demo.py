# Demo twin of imagenet_lt/resnet50_iif_90e_imagenet_lt.py: linear + IIF ('smooth'), counts
# computed on the fly from the training list.
_base_ = './convnet_ce_demo.py'

data_root = 'data/demo/classification/'
model = dict(
    head=dict(type='IIFLinearClsHead',
              iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt')))
