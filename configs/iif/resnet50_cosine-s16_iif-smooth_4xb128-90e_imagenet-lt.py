# Cosine classifier (s = 16) + IIF 'smooth' on its logits (the reference's classification
# setting), ResNet-50 on ImageNet-LT. The classifier is the reference's CosNorm (kostas1515/iif
# classification/resnet_pytorch.py line 213 `--classif_norm cosine` ->
# classification/resnet_cifar.py `CosNorm_Classifier`, lines 50-78): the input's unit vector is
# squashed by ||x|| / (1 + ||x||) (`squash=True`), fixed s = 16, no bias, weight rows uniform in
# +-1/sqrt(D) (CosineClassifier's default init).
_base_ = '../baselines/resnet50_4xb128-90e_imagenet-lt.py'

model = dict(
    head=dict(type='CosineClsHead', scale=16.0, squash=True,
              iif=dict(variant='smooth', stats='imagenet_lt')))
