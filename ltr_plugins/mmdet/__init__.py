"""Adapters registered into mmdet's registries."""
from .datasets import LVISV1JsonDataset
from .heads import CAMCRoIHead, CAMCShared2FCBBoxHead, IIFShared2FCBBoxHead
from .metrics import LongTailLVISMetric
from .oltr import OLTRShared2FCBBoxHead
from .vlltr import LGRClsLoss, LGRPredictor, LGRRoIHead

__all__ = ['LVISV1JsonDataset', 'CAMCRoIHead', 'CAMCShared2FCBBoxHead', 'IIFShared2FCBBoxHead',
           'LongTailLVISMetric', 'OLTRShared2FCBBoxHead', 'LGRClsLoss', 'LGRPredictor',
           'LGRRoIHead']
