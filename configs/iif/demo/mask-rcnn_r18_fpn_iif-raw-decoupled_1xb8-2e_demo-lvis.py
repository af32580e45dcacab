# IIF, decoupled mode for detection: load the plain demo Mask R-CNN and retrain only the bbox
# classifier (fc_cls) with IIF; every other parameter gets lr 0 and no weight decay, and the
# backbone's BN statistics are frozen. Run the plain demo first:
#   python tools/train.py configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py \
#       --work-dir work_dirs/demo_det
_base_ = './mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py'

load_from = 'work_dirs/demo_det/epoch_6.pth'
model = dict(backbone=dict(norm_eval=True))
frozen = dict(lr_mult=0.0, decay_mult=0.0)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        # mmengine applies the longest matching key: fc_cls trains, the rest is frozen
        'backbone': frozen, 'neck': frozen, 'rpn_head': frozen, 'roi_head': frozen,
        'roi_head.bbox_head.fc_cls': dict(lr_mult=1.0, decay_mult=1.0)}))
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=max_epochs)]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
