# Ablation of convnet_vlltr_demo.py: a plain linear (FC) classifier, trained with CE on the same
# frozen stage-1 image backbone, instead of the LGR head (no text at stage 2).
_base_ = './convnet_ce_demo.py'

load_from = 'work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/epoch_20.pth'
model = dict(backbone=dict(frozen=True))
max_epochs = 15
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
