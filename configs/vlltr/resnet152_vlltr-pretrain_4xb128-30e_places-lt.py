# VL-LTR stage 1 on Places-LT (see vlltr/resnet50_vlltr-pretrain_4xb128-90e_imagenet-lt.py for the
# inputs): ResNet-152 image tower (ImageNet-pretrained, as the Places-LT baseline), CLIP RN50
# text tower from a local open_clip checkpoint, 1024-d joint space, beta = 0.5.
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

data_root = '{{$PLACES_LT_ROOT:data/places365/}}'.rstrip('/') + '/'
clip_checkpoint = 'checkpoints/clip/RN50.pt'
model = dict(
    _delete_=True,
    type='VLLTRPretrainer',
    distill_weight=0.5,
    backbone=dict(type='ResNet', depth=152, num_stages=4, out_indices=(3, ), style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet152')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='VLLTRPretrainHead',
        num_classes=365,
        in_channels=2048,
        embed_dim=1024,
        class_texts=data_root + 'class_texts.json',
        classes=data_root + 'classes.txt',
        text_encoder=dict(type='open_clip', model_name='RN50', checkpoint=clip_checkpoint),
        train_text_encoder=True,
        smoothing=0.1))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'logit_scale': dict(decay_mult=0.0)}))
