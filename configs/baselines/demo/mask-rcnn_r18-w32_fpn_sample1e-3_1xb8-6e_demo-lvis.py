# The demo CE detector (mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py) on a half-width
# ResNet-18 trunk: 32 base channels instead of 64 (stages of 32 / 64 / 128 / 256 channels, about a
# quarter of the trunk's FLOPs), the FPN's inputs to match; everything else (64-channel FPN
# outputs, RPN, RoI heads, schedule) unchanged. The base model of `benchmark_lt --suite w32` and
# `--suite quick-w32`; measured and not taken as the demo detector: 3 points of segm AP lower
# (14.9 +- 0.7 against 17.9 +- 1.5, seeds 0-5), the quick tier 33.1 min instead of 36.5, still
# over its 30-minute aim (docs/benchmarks/README.md, "A half-width detection trunk").
_base_ = './mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'

model = dict(backbone=dict(base_channels=32), neck=dict(in_channels=[32, 64, 128, 256]))
