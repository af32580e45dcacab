# Demo twin of lvis/mask_rcnn_vlltr.py: the LGR RoI classifier on the embedded LVIS-format data.
# Anchors: the classification demo's stage-1 AnSS anchors (M = 8, 256-d) of the 12 detection
# classes (they are the first 12 classification classes), written by
#   python tools/vlltr/select_anchor_sentences.py configs/demo/convnet_vlltr_pretrain_demo.py \
#       work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/epoch_20.pth --num-anchors 8 \
#       --classes data/demo/lvis_v1/annotations/lvis_v1_train.json \
#       --out work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/anchors_det_anss_m8.safetensors
_base_ = './mask_rcnn_r18_fpn_demo.py'

num_classes = 12
anchor_file = 'work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/anchors_det_anss_m8.safetensors'
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='LGRPredictor', anchors=anchor_file, hidden_ratio=1),
    loss_cls=dict(_delete_=True, type='LGRClsLoss', num_classes=num_classes, alpha=0.5))))
