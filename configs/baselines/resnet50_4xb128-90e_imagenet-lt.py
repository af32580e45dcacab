# Baseline: ResNet-50 trained from scratch with softmax CE on ImageNet-LT, 90 epochs
# (the "joint" baseline of Kang et al.); evaluated top-1 overall and many / medium / few.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_lt.py',
    '../_base_/schedules/imagenet_lt_90e.py',
    '../_base_/mmpretrain_runtime.py',
]
