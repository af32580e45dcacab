# Ablation of convnet_vlltr-lgr-m8_1xb64-15e_demo-cls.py: a plain linear (FC) classifier, trained
# with CE on the same frozen stage-1 image backbone, instead of the LGR head (no text at stage 2).
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

load_from = 'work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls/epoch_20.pth'
model = dict(backbone=dict(frozen=True))
max_epochs = 15
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
