# IIF, post-hoc mode on Mask R-CNN: test the plain CE model
# (mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py) with the IIF weights applied to its class
# logits (background at 1.0). Test only (IIFShared2FCBBoxHead has Shared2FCBBoxHead's parameter
# names plus the iif.weights buffer from this config):
#   python tools/test.py configs/iif/demo/mask-rcnn_r18_fpn_iif-raw-posthoc_demo-lvis.py \
#       work_dirs/demo_det/epoch_6.pth
_base_ = './mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py'
