# Demo twin of imagenet_lt/resnet50_camc_iif_90e_imagenet_lt.py: CAMC + cosine (s = 16) + IIF
# ('smooth') on both passes' logits.
_base_ = './convnet_camc_demo.py'

data_root = 'data/demo/classification/'
model = dict(head=dict(iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt')))
