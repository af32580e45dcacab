"""Backbones: a small plain conv net for 32 px images (demo and test configs on the embedded
data) and mmpretrain's ResNet with OLTR's ResNet-10."""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.models.backbones import ResNet
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class SmallConvNet(BaseModule):
    """Plain conv-BN-ReLU stages (two 3x3 convs each; the first of every stage but the first
    has stride 2). Trained from scratch on the embedded 1.6k-image classification set it
    learns several times faster than a narrow CIFAR ResNet-18 of similar cost (measured:
    55% vs 15% top-1 after 30 epochs).

    Args:
        widths: output channels of each stage; the output has ``widths[-1]`` channels at
            1/8 resolution for four stages.
        in_channels: input channels.
        frozen: freeze all weights and keep BN in eval mode (decoupled classifier training).

    Shape:
        (N, in_channels, H, W) -> tuple with one (N, widths[-1], H / 2^(S-1), W / 2^(S-1)).
    """

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256), in_channels: int = 3,
                 frozen: bool = False, init_cfg=dict(type='Kaiming', layer='Conv2d')) -> None:
        super().__init__(init_cfg=init_cfg)
        self.frozen = frozen
        layers, prev = [], in_channels
        for i, width in enumerate(widths):
            for j in range(2):
                stride = 2 if (i > 0 and j == 0) else 1
                layers += [nn.Conv2d(prev, width, 3, stride, 1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                prev = width
        self.layers = nn.Sequential(*layers)
        if frozen:
            self.requires_grad_(False)

    def train(self, mode: bool = True) -> 'SmallConvNet':
        # a frozen backbone keeps its BN statistics (eval mode) while the head trains
        return super().train(mode and not self.frozen)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """(N, in_channels, H, W) -> ((N, widths[-1], H / 2^(S-1), W / 2^(S-1)),)."""
        return (self.layers(x), )


@MODELS.register_module()
class ResNetLT(ResNet):
    """mmpretrain's ``ResNet`` plus ``depth=10`` (BasicBlock, one block per stage, 512-d
    output): the ResNet-10 that OLTR trains from scratch on ImageNet-LT."""

    arch_settings = {**ResNet.arch_settings, 10: (BasicBlock, (1, 1, 1, 1))}
