# Demo twin of imagenet_lt/resnet50_vlltr_lgr_imagenet_lt.py: VL-LTR stage 2, the LGR head on
# the frozen stage-1 image encoder (backbone + image projection from load_from), with the M = 8
# anchor sentences per class chosen by AnSS. Produce the inputs first:
#   python tools/train.py configs/demo/convnet_vlltr_pretrain_demo.py \
#       --work-dir work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo
#   python tools/vlltr/select_anchor_sentences.py configs/demo/convnet_vlltr_pretrain_demo.py \
#       work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/epoch_20.pth --num-anchors 8 \
#       --out work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/anchors_anss_m8.safetensors
# (tools/benchmark_lt.py --suite vlltr runs all of it).
_base_ = './convnet_ce_demo.py'

num_classes = 20
stage1_dir = 'work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/'
load_from = stage1_dir + 'epoch_20.pth'
model = dict(
    backbone=dict(frozen=True),
    head=dict(
        _delete_=True,
        type='LGRClsHead',
        num_classes=num_classes,
        in_channels=256,
        anchors=stage1_dir + 'anchors_anss_m8.safetensors',
        image_proj=True,          # stage-1 head.image_proj, loaded by load_from
        freeze_image_proj=True,
        alpha=0.2,                # ImageNet-LT / Places-LT value of the reference
        fusion='prob',
        hidden_ratio=4,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

max_epochs = 15
# W_q / W_k start at the identity and move slowly (1 / 100 of the base lr).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.lgr.query.': dict(lr_mult=0.01), 'head.lgr.key.': dict(lr_mult=0.01)}))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
