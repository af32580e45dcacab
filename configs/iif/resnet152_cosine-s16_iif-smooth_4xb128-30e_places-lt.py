# Cosine classifier + IIF 'smooth' on its logits (the reference's classification setting),
# ResNet-152 on Places-LT. The reference trains Places-LT with `--classif_norm lr_cosine`
# (kostas1515/iif classification/README.md, Places-LT commands; resnet_pytorch.py line 215):
# its CosNorm_Classifier (classification/resnet_cifar.py lines 50-78) squashes the input by
# ||x|| / (1 + ||x||) and LEARNS the scale as a parameter s0 = 5 whose square multiplies the
# logits (lines 57 and 76). Here: squash=True, learnable_scale=True, scale_param='sqrt' (the
# parameter is sqrt(s)), scale=25.0 (= 5 ** 2 at init). The 's16' in the file name is the
# ImageNet-LT sibling's fixed scale, kept for a stable name; this config's s starts at 25.
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

model = dict(head=dict(type='CosineClsHead', scale=25.0, learnable_scale=True,
                       scale_param='sqrt', squash=True,
                       iif=dict(variant='smooth', stats='places_lt')))
