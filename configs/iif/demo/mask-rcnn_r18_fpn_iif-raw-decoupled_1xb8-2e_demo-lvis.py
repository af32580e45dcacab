# IIF, decoupled mode for detection: load the plain demo Mask R-CNN and retrain only the bbox
# classifier (fc_cls) with IIF (BoxHeadRetrainDetector: every other parameter frozen, with its BN
# statistics, and no RPN or mask loss computed). Run the plain demo first:
#   python tools/train.py configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py \
#       --work-dir work_dirs/demo_det
_base_ = './mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py'

load_from = 'work_dirs/demo_det/epoch_6.pth'
model = dict(type='BoxHeadRetrainDetector', trainable=['roi_head.bbox_head.fc_cls'])
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=max_epochs)]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
