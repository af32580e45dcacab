# OLTR stage 2 on ImageNet-LT: reload stage 1, add the modulated attention and a 512-d fc+ReLU
# feature layer (OLTRNeck), the dynamic meta-embedding head (visual memory = class centroids,
# hallucinator initialised from the stage-1 classifier), CE + 0.01 x discriminative centroid
# loss, class-aware sampling (4 images per class visit); 60 epochs, step 20, feature lr 0.01,
# classifier lr 0.1, centroid lr 0.01 (SGD m 0.9, wd 5e-4).
_base_ = './resnet10_oltr-stage1_1xb128-30e_imagenet-lt.py'

model = dict(
    neck=dict(_delete_=True, type='OLTRNeck', in_channels=512, out_channels=512,
              attention=True, spatial_size=7),
    head=dict(_delete_=True, type='MetaEmbeddingClsHead', num_classes=1000, in_channels=512,
              centroid_loss_weight=0.01, init_hallucinator_from='fc', topk=(1, 5)))

# mmdet's ClassAwareSampler reads the class list from the dataset's metainfo, which a
# `path label` list does not give: name the classes by their label
train_dataloader = dict(
    dataset=dict(metainfo=dict(classes=[f'class_{i:04d}' for i in range(1000)])),
    sampler=dict(_delete_=True, type='mmdet.ClassAwareSampler', num_sample_class=4))
# centroids <- class means of the direct features (train set, test transforms, eval mode)
custom_hooks = [dict(type='OLTRCentroidInitHook')]

optim_wrapper = dict(
    optimizer=dict(lr=0.1),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),  # feature model: 0.01
        'neck': dict(lr_mult=0.1),
        'head.loss_centroid.centroids': dict(lr_mult=0.1),  # memory: 0.01, wd 5e-4
    }))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=20, gamma=0.1)
train_cfg = dict(max_epochs=60)
# the stage-1 checkpoint (tools/train.py's default work dir)
load_from = 'work_dirs/resnet10_oltr-stage1_1xb128-30e_imagenet-lt/epoch_30.pth'
