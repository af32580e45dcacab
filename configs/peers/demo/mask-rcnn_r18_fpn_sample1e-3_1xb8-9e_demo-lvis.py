# Length control of the RFS peer (mask-rcnn_r18_fpn_sample0.15_1xb8-6e_demo-lvis.py): the CE
# baseline trained for 9 epochs instead of 6. RFS at t=0.15 repeats the rare and common images,
# so its 6 epochs are 636 iterations (106 batches of 8) against the baseline's 450 (75); this run
# takes 675 (9 x 75) with its learning-rate step after epoch 7: 525 iterations before the step
# (RFS: 530) and 150 after (RFS: 106). What RFS gains over it is the re-balancing, not the
# longer schedule (tests/benchmarking/test_peers.py counts both).
_base_ = '../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

max_epochs = 9
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[7], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
