# Test-only: CAMC + cosine classifier on the tiny preset (un-pooled 64 x 4 x 4 maps).
_base_ = './convnet_tiny.py'

model = dict(
    neck=None,
    head=dict(type='CAMCClsHead', scale=16.0,
              camc=dict(lam=1.0, topk=2, momentum=0.9, aux_weight=0.5)))
