# Cosine classifier (s = 16) + IIF 'smooth' on its logits (the reference's classification
# setting), ResNet-50 on ImageNet-LT.
_base_ = './resnet50_ce_90e_imagenet_lt.py'

model = dict(
    head=dict(type='CosineClsHead', scale=16.0,
              iif=dict(variant='smooth', stats='imagenet_lt')))
