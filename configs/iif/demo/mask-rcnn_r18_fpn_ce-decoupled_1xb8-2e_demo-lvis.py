# Control for mask-rcnn_r18_fpn_iif-raw-decoupled_1xb8-2e_demo-lvis.py: the same retraining of
# fc_cls on the plain demo Mask R-CNN (same load_from, data, schedule and frozen parts) with the
# stock bbox head and no IIF - separates IIF from the extra epochs of the classifier.
#   python tools/train.py configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py \
#       --work-dir work_dirs/demo_det
_base_ = './mask-rcnn_r18_fpn_iif-raw-decoupled_1xb8-2e_demo-lvis.py'

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
