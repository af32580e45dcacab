# Peer: Equalization Loss v2 (Tan et al., CVPR 2021) with mmdet's own EQLV2Loss (mu=0.8,
# alpha=4, gamma=12, its defaults = the reference's) through EQLV2BBoxLoss, which only declares
# to mmdet's BBoxHead that the loss has K + 1 sigmoid channels and its own test activation.
# Recipe of the reference (tztztztztz/eqlv2, configs/end2end/eqlv2_r50_8x2_1x.py on
# mask_rcnn_r50_8x2_1x.py): EQLv2 on a linear classifier, RFS off (oversample_thr=0.0), 1x;
# here the demo baseline's data, model and schedule. Evaluation as the reference's bbox head:
# detection scores = sigmoid(z_c) * (1 - sigmoid(z_bg)) (EQLV2Loss.get_activation,
# test_with_obj=True), not a softmax. One process here; on several GPUs set use_distributed=True
# (the reference all-reduces the per-class gradient statistics across GPUs).
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

num_classes = 12
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='EQLV2BBoxLoss', num_classes=num_classes,
                          use_sigmoid=True, mu=0.8, alpha=4.0, gamma=12, test_with_obj=True,
                          loss_weight=1.0))))
