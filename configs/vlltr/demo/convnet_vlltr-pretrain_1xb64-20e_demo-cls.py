# Demo twin of vlltr/resnet50_vlltr-pretrain_4xb128-90e_imagenet-lt.py: VL-LTR stage 1 (class-wise
# visual-linguistic pretraining) on the embedded classification data. Image tower: the demo conv
# net, initialised from the trained CE demo model (the stand-in for CLIP's pretrained image encoder;
# run configs/baselines/demo/convnet_1xb64-30e_demo-cls.py first -- tools/benchmark_lt.py makes
# it first, found by image_init's path). Text tower: the offline all-MiniLM-L6-v2 (384-d), frozen
# (its sentence embeddings are computed once); the image backbone, both projections to the 256-d
# joint space and the scale train.
# beta = 0.5 (L_dis from the frozen initial model). Validation: zero-shot top-1 (image vs mean
# class-sentence embedding).
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
num_classes = 20
image_init = 'work_dirs/benchmark_lt/convnet_1xb64-30e_demo-cls/epoch_30.pth'
model = dict(
    _delete_=True,
    type='VLLTRPretrainer',
    distill_weight=0.5,
    backbone=dict(type='SmallConvNet', widths=(32, 64, 128, 256),
                  init_cfg=dict(type='Pretrained', checkpoint=image_init, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='VLLTRPretrainHead',
        num_classes=num_classes,
        in_channels=256,
        embed_dim=256,
        class_texts=data_root + 'class_texts.json',
        classes=data_root + 'classes.txt',
        text_encoder=dict(type='minilm'),
        train_text_encoder=False,  # True: fine-tune MiniLM too (slow on CPU)
        smoothing=0.1))

max_epochs = 20
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'logit_scale': dict(decay_mult=0.0)}))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
