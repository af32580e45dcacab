# Demo twin of oltr/resnet10_oltr-stage1_1xb128-30e_imagenet-lt.py: OLTR stage 1 is the plain CE
# model, so this is convnet_1xb64-30e_demo-cls.py (same model, data, schedule and seed: its
# checkpoint serves as stage 1) tested with the open-set protocol: the closed test set + the
# embedded open split (10 glyph classes never seen in training, label -1).
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
classes = data_root + 'classes.txt'
test_pipeline = {{_base_.test_pipeline}}
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PipelineConcatDataset',  # a ConcatDataset with its pipeline where inferencers look
        pipeline=test_pipeline,
        datasets=[
            dict(type='CustomDataset', data_root=data_root, classes=classes,
                 ann_file='ImageNet_LT_test.txt'),
            dict(type='CustomDataset', data_root=data_root, classes=classes,
                 ann_file='ImageNet_LT_open.txt'),
        ]))
# OLTR's threshold 0.1 is 100x the uniform probability with 1000 classes; with 20 classes it
# rejects almost nothing, so the demo also reports stricter thresholds (keys f_measure@0.5 ...)
test_evaluator = dict(type='OpenSetLongTailAccuracy', threshold=[0.1, 0.5, 0.9])
