# IIF, post-hoc mode on Mask R-CNN R50-FPN (LVIS v1): test a plain softmax-CE Mask R-CNN with the
# IIF weights ('raw', packaged LVIS v1 image counts) applied to its class logits, background at
# 1.0. Test only: IIFShared2FCBBoxHead has Shared2FCBBoxHead's parameter names plus the
# iif.weights buffer, which comes from this config. With the baseline trained first:
#   python tools/train.py configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py
#   python tools/test.py configs/iif/mask-rcnn_r50_fpn_iif-raw-posthoc_lvis-v1.py \
#       work_dirs/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1/epoch_12.pth
# (any checkpoint of a Shared2FCBBoxHead Mask R-CNN for LVIS v1 works, e.g. mmdet's released
# mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1 one, given by path or URL).
_base_ = './mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'
