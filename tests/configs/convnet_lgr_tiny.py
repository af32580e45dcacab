# Test-only: VL-LTR stage 2 (LGR head) on the `tiny` preset. The stage-1 checkpoint and anchor
# file paths are given by the test with --cfg-options load_from=... model.head.anchors=...
_base_ = './convnet_tiny.py'

num_classes = 6
model = dict(
    backbone=dict(frozen=True),
    head=dict(_delete_=True, type='LGRClsHead', num_classes=num_classes, in_channels=64,
              anchors='set-by-the-test.safetensors', alpha=0.2, hidden_ratio=2,
              loss=dict(type='CrossEntropyLoss'), topk=(1, )))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.lgr.query.': dict(lr_mult=0.01), 'head.lgr.key.': dict(lr_mult=0.01)}))
train_dataloader = dict(dataset=dict(indices=list(range(0, 384, 5))))
