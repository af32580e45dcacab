# Demo twin of cosine/resnet50_cosine-s16_4xb128-90e_imagenet-lt.py: cosine classifier, s = 16.
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

model = dict(head=dict(type='CosineClsHead', scale=16.0))
