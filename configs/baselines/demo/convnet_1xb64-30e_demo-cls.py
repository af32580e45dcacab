# Demo twin of baselines/resnet50_4xb128-90e_imagenet-lt.py on the embedded long-tailed
# classification data (glyph images, 32 px, many / medium / few classes, balanced test). It
# differs only in data root, image size, backbone (a small plain conv net), schedule and
# augmentation (no flip: glyphs are not mirror-symmetric). A few minutes on 2 CPU cores.
_base_ = '../resnet50_4xb128-90e_imagenet-lt.py'

embedded_data = dict(preset='demo', root='data/demo', seed=0)
data_root = 'data/demo/classification/'
num_classes = 20

data_preprocessor = dict(num_classes=num_classes)
model = dict(
    # a plain 8-layer conv net: from scratch on 1.6k images it learns far faster than a
    # narrow CIFAR ResNet-18 of the same cost (see SmallConvNet)
    backbone=dict(_delete_=True, type='SmallConvNet', widths=(32, 64, 128, 256)),
    head=dict(num_classes=num_classes, in_channels=256, topk=(1, )))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
classes = data_root + 'classes.txt'
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(data_root=data_root, classes=classes, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(data_root=data_root, classes=classes, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(data_root=data_root, classes=classes, pipeline=test_pipeline))
val_evaluator = dict(train_ann_file=data_root + 'ImageNet_LT_train.txt')
test_evaluator = val_evaluator

max_epochs = 30
# AdamW: from scratch on 1.6k small images SGD (lr 0.1) stayed near chance for 30 epochs.
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=10, max_keep_ckpts=1))
randomness = dict(seed=0)
