# IIF, decoupled mode on Mask R-CNN R50-FPN (LVIS v1): load a plain softmax-CE Mask R-CNN and
# retrain only the bbox classifier (fc_cls) with IIF ('raw') for 4 epochs (a third of the 1x
# schedule, as the demo twin's 2 of 6; not tuned, and not trained here) with
# BoxHeadRetrainDetector: every other parameter is frozen (no gradient, eval mode, BN statistics
# kept) and the RPN and mask losses are not computed. Train the baseline first, or set
# load_from to any Shared2FCBBoxHead Mask R-CNN checkpoint for LVIS v1:
#   python tools/train.py configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py
#   python tools/train.py configs/iif/mask-rcnn_r50_fpn_iif-raw-decoupled_8xb2-4e_lvis-v1.py
_base_ = './mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'

load_from = 'work_dirs/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1/epoch_12.pth'
model = dict(type='BoxHeadRetrainDetector', trainable=['roi_head.bbox_head.fc_cls'])
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[3], gamma=0.1)
]
