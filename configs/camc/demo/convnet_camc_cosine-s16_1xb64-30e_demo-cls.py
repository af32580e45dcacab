# Demo twin of camc/resnet50_camc_cosine-s16_4xb128-90e_imagenet-lt.py (and the Places-LT one):
# CAMC (CAMCalibration's defaults) + cosine classifier (s = 16, from the base). SmallConvNet
# returns its 256 x 4 x 4 map (32 px input, 1/8 resolution) un-pooled; neck=None hands it to
# CAMCClsHead, which pools after calibrating.
_base_ = '../../cosine/demo/convnet_cosine-s16_1xb64-30e_demo-cls.py'

model = dict(neck=None, head=dict(type='CAMCClsHead'))
