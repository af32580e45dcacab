# Baseline: ImageNet-pretrained ResNet-152 fine-tuned with softmax CE on Places-LT for 30 epochs
# (the OLTR / decoupling protocol); top-1 overall and many / medium / few.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/places_lt.py',
    '../_base_/mmpretrain_runtime.py',
]
model = dict(
    backbone=dict(depth=152,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet152')),
    head=dict(num_classes=365))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', T_max=30, by_epoch=True, begin=0, end=30)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)
