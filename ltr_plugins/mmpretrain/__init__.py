"""Adapters registered into mmpretrain's registries."""
from .backbones import ResNetLT, SmallConvNet
from .heads import CosineClsHead, IIFLinearClsHead
from .metrics import LongTailAccuracy, OpenSetLongTailAccuracy
from .oltr import MetaEmbeddingClsHead, OLTRNeck

__all__ = ['ResNetLT', 'SmallConvNet', 'CosineClsHead', 'IIFLinearClsHead', 'LongTailAccuracy',
           'OpenSetLongTailAccuracy', 'MetaEmbeddingClsHead', 'OLTRNeck']
