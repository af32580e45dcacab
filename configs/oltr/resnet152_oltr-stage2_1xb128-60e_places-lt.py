# OLTR stage 2 on Places-LT: stage 1 + modulated attention, meta-embedding head (hallucinator
# from the stage-1 classifier), CE + 0.01 x discriminative centroid loss, class-aware sampling
# (4 per class). Schedule as ImageNet-LT's stage 2 (60 epochs, step 20; features 0.01,
# classifier 0.1, centroids 0.01).
_base_ = './resnet152_oltr-stage1_1xb128-30e_places-lt.py'

model = dict(
    neck=dict(attention=True, spatial_size=7),
    head=dict(_delete_=True, type='MetaEmbeddingClsHead', num_classes=365, in_channels=512,
              centroid_loss_weight=0.01, init_hallucinator_from='fc', topk=(1, 5)))
# mmdet's ClassAwareSampler reads the class list from the dataset's metainfo, which a
# `path label` list does not give: name the classes by their label
train_dataloader = dict(
    dataset=dict(metainfo=dict(classes=[f'class_{i:04d}' for i in range(365)])),
    sampler=dict(_delete_=True, type='mmdet.ClassAwareSampler', num_sample_class=4))
custom_hooks = [dict(type='OLTRCentroidInitHook')]
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'neck': dict(lr_mult=0.1),
        'head.loss_centroid.centroids': dict(lr_mult=0.1),
    }))
param_scheduler = dict(step_size=20)
train_cfg = dict(max_epochs=60)
# the stage-1 checkpoint (tools/train.py's default work dir)
load_from = 'work_dirs/resnet152_oltr-stage1_1xb128-30e_places-lt/epoch_30.pth'
