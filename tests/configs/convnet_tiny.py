# Test-only: the demo classifier on the `tiny` embedded preset (6 classes), 2 short epochs.
_base_ = '../../configs/baselines/demo/convnet_1xb64-30e_demo-cls.py'

embedded_data = dict(preset='tiny', root='data/tiny', seed=0)
data_root = 'data/tiny/classification/'
num_classes = 6

data_preprocessor = dict(num_classes=num_classes)
model = dict(backbone=dict(widths=(8, 16, 32, 64)),
             head=dict(num_classes=num_classes, in_channels=64))
classes = data_root + 'classes.txt'
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, classes=classes))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, classes=classes))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root=data_root, classes=classes))
val_evaluator = dict(train_ann_file=data_root + 'ImageNet_LT_train.txt')
test_evaluator = val_evaluator

max_epochs = 2
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=1, max_keep_ckpts=-1))
