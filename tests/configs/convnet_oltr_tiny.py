# Test-only: OLTR stage 2 on the `tiny` preset (6 classes, 64-channel 4x4 maps), 2 short epochs,
# open-set test (tiny closed test + open split). Stage 1 is tests/configs/convnet_tiny.py.
_base_ = '../../configs/oltr/demo/convnet_oltr-stage2_1xb64-15e_demo-cls.py'

embedded_data = dict(preset='tiny', root='data/tiny', seed=0)
data_root = 'data/tiny/classification/'
classes = data_root + 'classes.txt'
num_classes = 6
test_pipeline = {{_base_.test_pipeline}}

data_preprocessor = dict(num_classes=num_classes)
model = dict(backbone=dict(widths=(8, 16, 32, 64)),
             neck=dict(in_channels=64, out_channels=64),
             head=dict(num_classes=num_classes, in_channels=64))
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, classes=classes))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, classes=classes))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(datasets=[
        dict(type='CustomDataset', data_root=data_root, classes=classes,
             ann_file='ImageNet_LT_test.txt', pipeline=test_pipeline),
        dict(type='CustomDataset', data_root=data_root, classes=classes,
             ann_file='ImageNet_LT_open.txt', pipeline=test_pipeline),
    ]))
val_evaluator = dict(train_ann_file=data_root + 'ImageNet_LT_train.txt')
test_evaluator = dict(train_ann_file=data_root + 'ImageNet_LT_train.txt')

max_epochs = 2
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=1, max_keep_ckpts=-1))
load_from = None
