# The demo CE detector (mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py) on a half-width
# ResNet-18 trunk: 32 base channels instead of 64 (stages of 32 / 64 / 128 / 256 channels, about a
# quarter of the trunk's FLOPs), the FPN's inputs to match; everything else (64-channel FPN
# outputs, RPN, RoI heads, schedule) unchanged. The ResNet-18 is 71% of a training step's forward
# FLOPs, so this is the one lever left on the quick tier's time that keeps the demo schedules
# (docs/benchmarks/README.md, "A half-width detection trunk"). The base model of
# `benchmark_lt --suite w32`.
_base_ = './mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

model = dict(backbone=dict(base_channels=32), neck=dict(in_channels=[32, 64, 128, 256]))
