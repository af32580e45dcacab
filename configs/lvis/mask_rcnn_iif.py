# Old name, kept so that existing commands keep working (`tools/train.py
# configs/lvis/mask_rcnn_iif.py`, `ltr_plugins::lvis/mask_rcnn_iif.py`): the same config as
# iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py. New work should use the new name.
_base_ = '../iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'
