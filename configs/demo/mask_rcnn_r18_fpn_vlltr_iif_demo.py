# Demo twin of lvis/mask_rcnn_vlltr_iif.py: LGR RoI classifier + IIF ('raw', from the training
# json) on both branches, RFS off.
_base_ = './mask_rcnn_r18_fpn_vlltr_demo.py'

data_root = 'data/demo/lvis_v1/'
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
model = dict(roi_head=dict(bbox_head=dict(cls_predictor_cfg=dict(
    iif=dict(variant='raw', stats=data_root + 'annotations/lvis_v1_train.json')))))
