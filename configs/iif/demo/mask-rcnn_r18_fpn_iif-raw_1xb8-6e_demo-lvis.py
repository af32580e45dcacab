# Demo twin of iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py: IIF ('raw', image counts) on the
# embedded LVIS data.
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

data_root = 'data/demo/lvis_v1/'
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='IIFShared2FCBBoxHead',
            # counts computed on the fly from the training json
            iif=dict(variant='raw', stats=data_root + 'annotations/lvis_v1_train.json'),
            init_cfg=dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls')))))
