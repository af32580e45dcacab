# OLTR stage 1 on Places-LT: ImageNet-pretrained ResNet-152 + 512-d fc+ReLU feature layer
# (OLTR's use_fc, OLTRNeck without attention) + linear classifier, softmax CE, shuffled
# sampling, 30 epochs, SGD (features lr 0.01, classifier 0.1), step 10. Tested on the closed
# test set mixed with the open set (Places_LT_open.txt, labels -1).
_base_ = '../baselines/resnet152_4xb128-30e_places-lt.py'

# as in _base_/datasets/places_lt.py
data_root = '{{$PLACES_LT_ROOT:data/places365/}}'.rstrip('/') + '/'
model = dict(
    neck=dict(_delete_=True, type='OLTRNeck', in_channels=2048, out_channels=512,
              attention=False),
    head=dict(in_channels=512))

test_pipeline = {{_base_.test_pipeline}}
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PipelineConcatDataset',  # a ConcatDataset with its pipeline where inferencers look
        pipeline=test_pipeline,
        datasets=[
            dict(type='CustomDataset', data_root=data_root, ann_file='Places_LT_test.txt'),
            dict(type='CustomDataset', data_root=data_root, ann_file='Places_LT_open.txt'),
        ]))
test_evaluator = dict(type='OpenSetLongTailAccuracy', threshold=0.1)

optim_wrapper = dict(
    optimizer=dict(lr=0.1),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1), 'neck': dict(lr_mult=0.1)}))
param_scheduler = dict(_delete_=True, type='StepLR', by_epoch=True, step_size=10, gamma=0.1)
auto_scale_lr = dict(base_batch_size=128)
