# VL-LTR stage 2 on Places-LT: LGR head (M = 64 AnSS anchors, alpha = 0.2) on the frozen stage-1
# image encoder. Schedule: this package's choice (10 epochs).
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

stage1_dir = 'work_dirs/resnet152_vlltr-pretrain_4xb128-30e_places-lt/'
load_from = stage1_dir + 'epoch_30.pth'
model = dict(
    backbone=dict(frozen_stages=4, norm_eval=True, init_cfg=None),
    head=dict(
        _delete_=True,
        type='LGRClsHead',
        num_classes=365,
        in_channels=2048,
        anchors=stage1_dir + 'anchors_anss_m64.safetensors',
        alpha=0.2,
        fusion='prob',
        hidden_ratio=4,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
max_epochs = 10
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.lgr.query.': dict(lr_mult=0.01), 'head.lgr.key.': dict(lr_mult=0.01)}))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
