# Demo twin of camc/resnet50_camc_cosine-s16_iif-smooth_4xb128-90e_imagenet-lt.py: CAMC + cosine (s
# = 16) + IIF ('smooth') on both passes' logits.
_base_ = './convnet_camc_cosine-s16_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
model = dict(head=dict(iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt')))
