"""Adapters registered into mmpretrain's registries."""
from .metrics import LongTailAccuracy

__all__ = ['LongTailAccuracy']
