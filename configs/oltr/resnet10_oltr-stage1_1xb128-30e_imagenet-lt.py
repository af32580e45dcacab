# OLTR stage 1 (Liu et al., CVPR 2019) on ImageNet-LT: a plain ResNet-10 (from scratch) +
# linear classifier, softmax CE, shuffled sampling; 30 epochs, SGD lr 0.1 (batch 128), step 10.
# Tested on the closed test set mixed with the open set (OLTR's protocol: closed-set top-1 /
# many / medium / few and open-set F-measure at threshold 0.1).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/mmpretrain_runtime.py',
]
model = dict(
    backbone=dict(type='ResNetLT', depth=10),
    head=dict(in_channels=512, topk=(1, 5)))

# as in _base_/datasets/imagenet_lt.py
data_root = '{{$IMAGENET_LT_ROOT:data/imagenet/}}'.rstrip('/') + '/'
# open-set test: ImageNet_LT_test.txt (known classes) + ImageNet_LT_open.txt (images of classes
# outside the 1000, every label -1), both under data_root
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PipelineConcatDataset',  # a ConcatDataset with its pipeline where inferencers look
        pipeline={{_base_.test_pipeline}},
        datasets=[
            dict(type='CustomDataset', data_root=data_root, ann_file='ImageNet_LT_test.txt'),
            dict(type='CustomDataset', data_root=data_root, ann_file='ImageNet_LT_open.txt'),
        ]))
# (train_ann_file comes from the base's evaluator)
test_evaluator = dict(type='OpenSetLongTailAccuracy', threshold=0.1)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=10, gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
