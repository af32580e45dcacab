# ImageNet-LT joint training as in Kang et al. (decoupling): 90 epochs, SGD 0.2 for a batch of
# 512, cosine decay, weight decay 5e-4.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=0, end=90)

train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)
