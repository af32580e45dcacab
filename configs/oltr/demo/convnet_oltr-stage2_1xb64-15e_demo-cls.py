# Demo twin of oltr/resnet10_oltr-stage2_1xb128-60e_imagenet-lt.py: stage 2 on top of the demo
# stage-1 (CE) checkpoint. Modulated attention on the 4x4 map, a 256-d fc+ReLU feature layer (256,
# not 512: the hallucinator is initialised from the 256-d stage-1 classifier), meta-embedding head,
# CE + 0.01 x centroid loss, class-aware sampling (4 per class visit), SGD as the reference
# (features / centroids lr 0.01, classifier 0.1), 15 epochs with cosine decay.
#   python tools/train.py configs/oltr/demo/convnet_oltr-stage1_1xb64-30e_demo-cls.py
#       (or reuse the checkpoint of baselines/demo/convnet_1xb64-30e_demo-cls.py)
#   python tools/train.py configs/oltr/demo/convnet_oltr-stage2_1xb64-15e_demo-cls.py \
#       --cfg-options load_from=<stage-1 work dir>/epoch_30.pth
_base_ = './convnet_oltr-stage1_1xb64-30e_demo-cls.py'

model = dict(
    neck=dict(_delete_=True, type='OLTRNeck', in_channels=256, out_channels=256,
              attention=True, spatial_size=4),
    head=dict(_delete_=True, type='MetaEmbeddingClsHead', num_classes=20, in_channels=256,
              centroid_loss_weight=0.01, init_hallucinator_from='fc', topk=(1, )))
train_dataloader = dict(
    sampler=dict(_delete_=True, type='mmdet.ClassAwareSampler', num_sample_class=4))
custom_hooks = [dict(type='OLTRCentroidInitHook')]

max_epochs = 15
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'neck': dict(lr_mult=0.1),
        'head.loss_centroid.centroids': dict(lr_mult=0.1),
    }))
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
load_from = 'work_dirs/benchmark_lt/convnet_oltr-stage1_1xb64-30e_demo-cls/epoch_30.pth'
