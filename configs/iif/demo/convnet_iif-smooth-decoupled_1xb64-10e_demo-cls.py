# IIF, decoupled mode: load the plain CE demo model, freeze the backbone (weights and BN
# statistics) and retrain only the classifier with IIF ('smooth'). Run the CE demo first:
#   python tools/train.py configs/baselines/demo/convnet_1xb64-30e_demo-cls.py \
#       --work-dir work_dirs/demo_cls
_base_ = './convnet_iif-smooth_1xb64-30e_demo-cls.py'

load_from = 'work_dirs/demo_cls/epoch_30.pth'
model = dict(backbone=dict(frozen=True))
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
