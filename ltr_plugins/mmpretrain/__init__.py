"""Adapters registered into mmpretrain's registries."""
from .backbones import SmallConvNet
from .heads import CosineClsHead, IIFLinearClsHead
from .metrics import LongTailAccuracy
from .vlltr import LGRClsHead, VLLTRPretrainer, VLLTRPretrainHead

__all__ = ['SmallConvNet', 'CosineClsHead', 'IIFLinearClsHead', 'LongTailAccuracy', 'LGRClsHead',
           'VLLTRPretrainer', 'VLLTRPretrainHead']
