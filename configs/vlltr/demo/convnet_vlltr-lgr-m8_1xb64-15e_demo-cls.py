# Demo twin of vlltr/resnet50_vlltr-lgr-m64_4xb128-30e_imagenet-lt.py: VL-LTR stage 2, the LGR head
# on the frozen stage-1 image encoder (backbone + image projection from load_from), with the M = 8
# anchor sentences per class chosen by AnSS. Produce the inputs first:
#   python tools/train.py configs/vlltr/demo/convnet_vlltr-pretrain_1xb64-20e_demo-cls.py \
#       --work-dir work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls
#   S=work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls
#   python tools/vlltr/select_anchor_sentences.py \
#       configs/vlltr/demo/convnet_vlltr-pretrain_1xb64-20e_demo-cls.py \
#       $S/epoch_20.pth --num-anchors 8 \
#       --out $S/anchors_anss_m8.safetensors
# (tools/benchmark_lt.py --suite vlltr runs all of it).
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

num_classes = 20
stage1_dir = 'work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls/'
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
# W_q / W_k start at the identity; they and their LayerNorms move slowly (1 / 100 of the base
# lr), as the reference's text_lr covers all four (see the ImageNet-LT config).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.lgr.query': dict(lr_mult=0.01), 'head.lgr.key': dict(lr_mult=0.01)}))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
