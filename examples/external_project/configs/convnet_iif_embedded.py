# A foreign mmpretrain project's config: mmpretrain's own runtime / schedule bases, plus only the
# plugin (custom_imports) and ltr_plugins modules (a small conv net and the IIF head, and the
# many / medium / few metric), on the embedded demo classification data:
#   python -m ltr_plugins.datasets.generator --preset demo --out data/demo
#   MMPRETRAIN=$(python -c "import mmpretrain,os;print(os.path.dirname(mmpretrain.__file__))")
#   python $MMPRETRAIN/.mim/tools/train.py \
#       configs/convnet_iif_embedded.py
_base_ = ['mmpretrain::_base_/default_runtime.py', 'mmpretrain::_base_/schedules/cifar10_bs128.py']
custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)
# mmengine 0.10 checkpoints on torch >= 2.6: the plugin's allow-list loader (+ atomic writes)
# for this run (importing the plugin changes nothing in mmengine)
custom_hooks = [dict(type='CheckpointFixesHook')]

data_root = 'data/demo/classification/'
num_classes = 20
model = dict(
    type='ImageClassifier',
    backbone=dict(type='SmallConvNet', widths=(32, 64, 128, 256)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='IIFLinearClsHead', num_classes=num_classes, in_channels=256,
              iif=dict(variant='smooth', stats=data_root + 'ImageNet_LT_train.txt'),
              loss=dict(type='CrossEntropyLoss'), topk=(1, )))
data_preprocessor = dict(num_classes=num_classes, mean=[127.5] * 3, std=[127.5] * 3,
                         to_rgb=True)
dataset = dict(type='CustomDataset', data_root=data_root, classes=data_root + 'classes.txt')
train_dataloader = dict(
    batch_size=64, num_workers=2, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**dataset, ann_file='ImageNet_LT_train.txt', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=32, padding=4),
        dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=128, num_workers=2, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='ImageNet_LT_val.txt', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
test_dataloader = val_dataloader
val_evaluator = dict(type='LongTailAccuracy', train_ann_file=data_root + 'ImageNet_LT_train.txt')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', T_max=30, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=10)
