# Control for mask-rcnn_r18_fpn_oltr-stage2_sample1e-3_1xb8-3e_demo-lvis.py: the same 3-epoch
# fine-tune of the plain demo Mask R-CNN (same load_from, schedule and lr multipliers) with the
# stock bbox head - separates OLTR's head from the extra epochs.
_base_ = './mask-rcnn_r18_fpn_oltr-stage2_sample1e-3_1xb8-3e_demo-lvis.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            _delete_=True,
            type='Shared2FCBBoxHead',
            in_channels=64,
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes=12,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))))
custom_hooks = []
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={'backbone': dict(lr_mult=0.1),
                                                   'neck': dict(lr_mult=0.1)}))
