# Test-only: VL-LTR stage 1 on the `tiny` preset with a small random text tower (no files), two
# short epochs; validation is zero-shot top-1.
_base_ = './convnet_tiny.py'

data_root = 'data/tiny/classification/'
num_classes = 6
model = dict(
    _delete_=True,
    type='VLLTRPretrainer',
    distill_weight=0.5,
    backbone=dict(type='SmallConvNet', widths=(8, 16, 32, 64)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='VLLTRPretrainHead',
        num_classes=num_classes,
        in_channels=64,
        embed_dim=16,
        class_texts=data_root + 'class_texts.json',
        classes=data_root + 'classes.txt',
        text_encoder=dict(type='random', dim=24, width=16, seed=0),
        smoothing=0.1))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'logit_scale': dict(decay_mult=0.0)}))
# a 77-image subset spread over all classes (the list is class-sorted): 2 iterations per epoch
train_dataloader = dict(dataset=dict(indices=list(range(0, 384, 5))))
