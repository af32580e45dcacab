# CAMC (CAMCalibration's defaults) + scaled cosine classifier (s = 16), ImageNet-pretrained
# ResNet-152 on Places-LT (30 epochs). No pooling neck: CAMCClsHead calibrates the
# 2048 x 7 x 7 map, then pools.
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

model = dict(neck=None, head=dict(type='CAMCClsHead', scale=16.0))
