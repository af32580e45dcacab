# IIF, decoupled mode on ResNet-50 (ImageNet-LT): load the softmax-CE baseline, freeze the
# backbone (weights and BN statistics) and retrain only the linear classifier with IIF
# ('smooth') for 10 epochs with cosine decay (the classifier re-training length of Kang et al.'s
# cRT; not tuned for IIF, and not trained here). Train the baseline first:
#   python tools/train.py configs/baselines/resnet50_4xb128-90e_imagenet-lt.py
#   python tools/train.py configs/iif/resnet50_iif-smooth-decoupled_4xb128-10e_imagenet-lt.py
_base_ = './resnet50_iif-smooth_4xb128-90e_imagenet-lt.py'

load_from = 'work_dirs/resnet50_4xb128-90e_imagenet-lt/epoch_90.pth'
model = dict(backbone=dict(frozen_stages=4, norm_eval=True))
max_epochs = 10
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
