"""Adapters registered into mmpretrain's registries."""
from .backbones import SmallConvNet
from .heads import CAMCClsHead, CosineClsHead, IIFLinearClsHead
from .metrics import LongTailAccuracy

__all__ = ['SmallConvNet', 'CAMCClsHead', 'CosineClsHead', 'IIFLinearClsHead', 'LongTailAccuracy']
