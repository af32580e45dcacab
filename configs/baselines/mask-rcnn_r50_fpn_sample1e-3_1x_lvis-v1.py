# Baseline: Mask R-CNN R50-FPN 1x on LVIS v1 (1203 classes), identical to mmdet's
# lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py: RFS t=1e-3, multi-scale, softmax CE. Real
# data: LVIS_ROOT=/path/to/lvis_v1/ python tools/train.py
# configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/lvis_v1_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../_base_/mmdet_runtime.py',
]
model = dict(
    roi_head=dict(bbox_head=dict(num_classes=1203), mask_head=dict(num_classes=1203)),
    # LVIS evaluation standard: keep low-score detections, up to 300 per image.
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
