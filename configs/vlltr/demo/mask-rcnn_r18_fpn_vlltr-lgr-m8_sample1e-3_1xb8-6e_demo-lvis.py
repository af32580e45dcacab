# Demo twin of vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py: the LGR RoI
# classifier on the embedded LVIS-format data. Anchors: the classification demo's stage-1 AnSS
# anchors (M = 8, 256-d) of the 12 detection classes (they are the first 12 classification classes),
# written by
#   S=work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls
#   python tools/vlltr/select_anchor_sentences.py \
#       configs/vlltr/demo/convnet_vlltr-pretrain_1xb64-20e_demo-cls.py \
#       $S/epoch_20.pth --num-anchors 8 \
#       --classes data/demo/lvis_v1/annotations/lvis_v1_train.json \
#       --out $S/anchors_det_anss_m8.safetensors
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

num_classes = 12
anchor_file = ('work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls/'
               'anchors_det_anss_m8.safetensors')
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='LGRPredictor', anchors=anchor_file, hidden_ratio=1),
    loss_cls=dict(_delete_=True, type='LGRClsLoss', num_classes=num_classes, alpha=0.5))))
