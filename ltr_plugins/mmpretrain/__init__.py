"""Adapters registered into mmpretrain's registries."""
from .heads import CosineClsHead, IIFLinearClsHead
from .metrics import LongTailAccuracy

__all__ = ['CosineClsHead', 'IIFLinearClsHead', 'LongTailAccuracy']
