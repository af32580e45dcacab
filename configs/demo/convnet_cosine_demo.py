# Demo twin of imagenet_lt/resnet50_cosine_90e_imagenet_lt.py: cosine classifier, s = 16.
_base_ = './convnet_ce_demo.py'

model = dict(head=dict(type='CosineClsHead', scale=16.0))
