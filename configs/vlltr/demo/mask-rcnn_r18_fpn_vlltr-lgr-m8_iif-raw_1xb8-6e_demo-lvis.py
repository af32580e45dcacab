# Demo twin of vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_iif-raw_1x_lvis-v1.py: LGR RoI classifier + IIF
# ('raw', from the training json) on both branches, RFS off.
_base_ = './mask-rcnn_r18_fpn_vlltr-lgr-m8_sample1e-3_1xb8-6e_demo-lvis.py'

data_root = 'data/demo/lvis_v1/'
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
model = dict(roi_head=dict(bbox_head=dict(cls_predictor_cfg=dict(
    iif=dict(variant='raw', stats=data_root + 'annotations/lvis_v1_train.json')))))
