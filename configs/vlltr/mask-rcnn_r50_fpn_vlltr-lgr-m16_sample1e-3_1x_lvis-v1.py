# VL-LTR's LGR head as the RoI classifier of Mask R-CNN R50-FPN 1x on LVIS v1: text anchors for
# the 1203 classes + a learned background embedding (language branch), an MLP visual branch,
# CE(z1) + CE(z2), alpha = 0.5 probability fusion at inference (background last, through
# mmdet's custom_cls_channels / custom_activation path). RoI features (1024-d) are projected to
# the anchors' dimension by a learned Linear. M = 16 anchors per class (not the reference's 64:
# the language branch costs O(RoIs x C x M x D), see docs/methods/vlltr.md).
# Training computes the language logits of 64 classes per step only (the positive RoIs'
# classes + random others; LGRRoIHead hands the positives to the predictor): the language
# branch's cost drops ~C / 64-fold, inference still scores all 1203 classes (see
# docs/methods/vlltr.md, "class subset"). train_class_subset=None trains on all classes.
# Anchors from a fresh LVIS download, no stage-1 model needed (text-only rule, see
# docs/datasets.md):
#   python tools/vlltr/build_class_texts.py --lvis data/lvis_v1/annotations/lvis_v1_train.json \
#       --out data/lvis_v1/class_texts.json \
#       --anchors data/lvis_v1/vlltr_anchors_m16.safetensors --num-anchors 16
# With a stage-1 model covering the LVIS classes: tools/vlltr/select_anchor_sentences.py with
# --classes <lvis_v1_train.json> (AnSS; writes them in the detector's label order).
_base_ = '../baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'

anchor_file = 'data/lvis_v1/vlltr_anchors_m16.safetensors'
model = dict(roi_head=dict(
    type='LGRRoIHead',
    bbox_head=dict(
        cls_predictor_cfg=dict(type='LGRPredictor', anchors=anchor_file, hidden_ratio=1,
                               train_class_subset=64),
        loss_cls=dict(_delete_=True, type='LGRClsLoss', num_classes=1203, alpha=0.5))))
