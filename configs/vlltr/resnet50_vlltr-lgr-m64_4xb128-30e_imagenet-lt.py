# VL-LTR stage 2 on ImageNet-LT: the LGR head (M = 64 AnSS anchors per class, alpha = 0.2,
# CE(z1) + CE(z2), probability fusion at inference) on the frozen stage-1 image encoder
# (backbone + head.image_proj loaded from the stage-1 checkpoint). W_q / W_k start at the
# identity with 1/100 of the base lr. The schedule is this package's choice (30 epochs).
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
    'head.lgr.query.': dict(lr_mult=0.01), 'head.lgr.key.': dict(lr_mult=0.01)}))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
