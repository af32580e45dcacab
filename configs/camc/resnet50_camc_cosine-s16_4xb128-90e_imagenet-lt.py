# CAMC (class activation map calibration, reconstructed; docs/methods/camc.md) + the scaled cosine
# classifier (s = 16, from the base), ResNet-50 on ImageNet-LT. No pooling neck: CAMCClsHead
# takes the 2048 x 7 x 7 map, calibrates it with the CAMs of its own classifier and the class
# prototypes, then pools. Loss: CE on the calibrated logits + 0.5 x CE on the uncalibrated ones.
# CAMC options: CAMCalibration's defaults (lam 1, top-3, prototype momentum 0.9, correlation
# weight 0.5, combine 'mean', detached map, aux weight 0.5); set them with head.camc=dict(...).
_base_ = '../cosine/resnet50_cosine-s16_4xb128-90e_imagenet-lt.py'

model = dict(neck=None, head=dict(type='CAMCClsHead'))
