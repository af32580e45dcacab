# Cosine classifier (s = 16) + IIF 'smooth' on its logits, ResNet-152 on Places-LT.
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

model = dict(head=dict(type='CosineClsHead', scale=16.0,
                       iif=dict(variant='smooth', stats='places_lt')))
