# CAMC + cosine classifier (s = 16) + IIF 'smooth' on the logits of both passes (the CAMC
# first pass, whose top-k picks the inference CAMs, is IIF-adjusted too), ResNet-50 ImageNet-LT.
_base_ = './resnet50_camc_cosine-s16_4xb128-90e_imagenet-lt.py'

model = dict(head=dict(iif=dict(variant='smooth', stats='imagenet_lt')))
