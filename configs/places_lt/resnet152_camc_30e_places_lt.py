# CAMC + scaled cosine classifier (s = 16), ImageNet-pretrained ResNet-152 on Places-LT
# (30 epochs). No pooling neck: CAMCClsHead calibrates the 2048 x 7 x 7 map, then pools.
_base_ = './resnet152_ce_30e_places_lt.py'

model = dict(
    neck=None,
    head=dict(
        type='CAMCClsHead',
        in_channels=2048,
        scale=16.0,
        camc=dict(lam=1.0, topk=3, momentum=0.9, corr_weight=0.5, combine='mean',
                  detach_map=True, aux_weight=0.5)))
