# Test-only: the OLTR bbox head on the tiny Mask R-CNN (stage 2 from scratch: the centroids are
# the class means of the randomly initialised network's GT-box RoI features), one short epoch,
# open-set rejection on at test time.
_base_ = './mask_rcnn_tiny.py'

model = dict(
    roi_head=dict(
        type='LabelAwareRoIHead',  # hands the direct features to the centroid loss
        bbox_head=dict(type='OLTRShared2FCBBoxHead', centroid_loss_weight=0.01,
                       open_set_threshold=0.2)))
custom_hooks = [dict(type='OLTRCentroidInitHook')]
