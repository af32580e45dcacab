# Peer: Seesaw loss (Wang et al., CVPR 2021), mmdet's own SeesawLoss and NormedLinear with the
# settings of mmdet's seesaw_loss/mask-rcnn_r50_fpn_seesaw-loss_sample1e-3-ms-2x_lvis-v1.py
# (p=0.8, q=2.0, normalised linear classifier with temperature 20, RFS t=1e-3 kept from the
# baseline), on the demo baseline's data, model and schedule. mmdet's "random" twin (RFS off)
# is the same run on the demo data, where t=1e-3 repeats nothing. Seesaw scores detections
# with its own activation (SeesawLoss.get_activation, softmax over the class logits times the
# objectness), which mmdet's BBoxHead uses because the loss sets custom_cls_channels.
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

num_classes = 12
model = dict(
    roi_head=dict(
        bbox_head=dict(
            # 'tempearture' is mmdet's spelling of NormedLinear's argument
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(type='SeesawLoss', p=0.8, q=2.0, num_classes=num_classes,
                          loss_weight=1.0))))
