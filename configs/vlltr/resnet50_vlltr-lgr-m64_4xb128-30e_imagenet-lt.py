# VL-LTR stage 2 on ImageNet-LT: the LGR head (M = 64 AnSS anchors per class, alpha = 0.2,
# CE(z1) + CE(z2), probability fusion at inference) on the frozen stage-1 image encoder
# (backbone + head.image_proj loaded from the stage-1 checkpoint). W_q / W_k start at the
# identity. The schedule is this package's choice (30 epochs).
# The attention (W_q, W_k and their LayerNorms query_norm / key_norm: the keys below match all
# four) trains at 1/100 of the base lr. The reference trains exactly these at `text_lr`
# (ChangyaoTian/VL-LTR optim_factory.py lines 14-35: every parameter without 'visual' in its
# name; the visual MLP `visual_fc` stays at the base lr); its ratio text_lr / lr = 1e-6 / 1e-3
# is for AdamW, whose step does not scale with the gradient, so it does not carry over to this
# config's SGD schedule: 1/100 is this package's (untuned) choice.
_base_ = '../baselines/resnet50_4xb128-90e_imagenet-lt.py'

stage1_dir = 'work_dirs/resnet50_vlltr-pretrain_4xb128-90e_imagenet-lt/'
load_from = stage1_dir + 'epoch_90.pth'
model = dict(
    backbone=dict(frozen_stages=4, norm_eval=True),
    head=dict(
        _delete_=True,
        type='LGRClsHead',
        num_classes=1000,
        in_channels=2048,
        anchors=stage1_dir + 'anchors_anss_m64.safetensors',
        alpha=0.2,
        fusion='prob',
        hidden_ratio=4,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
max_epochs = 30
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.lgr.query': dict(lr_mult=0.01), 'head.lgr.key': dict(lr_mult=0.01)}))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
