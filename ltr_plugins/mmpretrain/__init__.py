"""Adapters registered into mmpretrain's registries."""
from .backbones import ResNetLT, SmallConvNet
from .datasets import PipelineConcatDataset
from .heads import CAMCClsHead, CosineClsHead, IIFLinearClsHead, PostHocLinearClsHead
from .losses import InverseFrequencyCrossEntropyLoss
from .metrics import LongTailAccuracy, OpenSetLongTailAccuracy
from .oltr import MetaEmbeddingClsHead, OLTRNeck
from .retrain import ClassifierRetrainGroup
from .vlltr import LGRClsHead, VLLTRPretrainer, VLLTRPretrainHead

__all__ = ['ResNetLT', 'SmallConvNet', 'CAMCClsHead', 'CosineClsHead', 'IIFLinearClsHead',
           'PostHocLinearClsHead', 'InverseFrequencyCrossEntropyLoss',
           'LongTailAccuracy', 'OpenSetLongTailAccuracy', 'MetaEmbeddingClsHead', 'OLTRNeck',
           'LGRClsHead', 'VLLTRPretrainer', 'VLLTRPretrainHead', 'PipelineConcatDataset',
           'ClassifierRetrainGroup']
