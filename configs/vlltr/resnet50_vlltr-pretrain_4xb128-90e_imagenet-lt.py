# VL-LTR stage 1 (Tian et al., ECCV 2022) on ImageNet-LT: class-wise visual-linguistic
# pretraining of a ResNet-50 image tower and a CLIP RN50 text tower (open_clip, weights from a
# local file; both towers fine-tuned as in the reference), 1024-d joint space, L = (1 - beta)
# L_lin + beta L_dis with beta = 0.5, label smoothing 0.1. Validation: zero-shot top-1.
# Inputs (no model hub is used):
#   - clip_checkpoint: an open_clip-loadable RN50 checkpoint (e.g. OpenAI's RN50.pt), local;
#   - class_texts: ltr_plugins.class_texts/1 json (the 80 CLIP templates + a description per
#     class, e.g. Wikipedia, split into sentences; see docs/methods/vlltr.md), classes.txt with the
#     1000 class names in label order;
#   - image_init: optional local checkpoint of a pretrained ResNet-50 image tower in mmpretrain
#     key format (the reference starts from CLIP's image tower; no converter is included).
# Then select anchors with tools/vlltr/select_anchor_sentences.py (M = 64) and train
# resnet50_vlltr-lgr-m64_4xb128-30e_imagenet-lt.py.
_base_ = '../baselines/resnet50_4xb128-90e_imagenet-lt.py'

data_root = '{{$IMAGENET_LT_ROOT:data/imagenet/}}'.rstrip('/') + '/'
clip_checkpoint = 'checkpoints/clip/RN50.pt'
image_init = None
model = dict(
    _delete_=True,
    type='VLLTRPretrainer',
    distill_weight=0.5,
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(3, ), style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint=image_init, prefix='backbone.')
                  if image_init else None),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='VLLTRPretrainHead',
        num_classes=1000,
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
