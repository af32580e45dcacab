# Control for convnet_oltr-stage2_1xb64-15e_demo-cls.py: the same stage-2 fine-tune (from the CE
# checkpoint, class-aware sampling with 4 images per class visit, SGD, 15 epochs, backbone lr x 0.1)
# but the plain model (GAP + linear classifier, CE only) - separates OLTR's head from the
# re-sampling and the extra epochs.
_base_ = './convnet_oltr-stage2_1xb64-15e_demo-cls.py'

model = dict(
    neck=dict(_delete_=True, type='GlobalAveragePooling'),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=20, in_channels=256,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )))
custom_hooks = []
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={'backbone': dict(lr_mult=0.1)}))
