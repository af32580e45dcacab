# IIF, post-hoc mode on Mask R-CNN: test the plain CE model (mask_rcnn_r18_fpn_demo.py) with the
# IIF weights applied to its class logits (background at 1.0). Test only (IIFShared2FCBBoxHead
# has Shared2FCBBoxHead's parameter names plus the iif.weights buffer from this config):
#   python tools/test.py configs/demo/mask_rcnn_r18_fpn_iif_posthoc_demo.py \
#       work_dirs/demo_det/epoch_6.pth
_base_ = './mask_rcnn_r18_fpn_iif_demo.py'
