"""Adapters registered into mmdet's registries."""
from .datasets import LVISV1JsonDataset
from .detectors import BoxHeadRetrainDetector
from .heads import (CAMCRoIHead, CAMCShared2FCBBoxHead, IIFShared2FCBBoxHead, LabelAwareRoIHead,
                    LGRRoIHead)
from .losses import EQLV2BBoxLoss
from .metrics import LongTailLVISMetric
from .oltr import OLTRShared2FCBBoxHead
from .vlltr import LGRClsLoss, LGRPredictor

__all__ = ['LVISV1JsonDataset', 'BoxHeadRetrainDetector', 'EQLV2BBoxLoss', 'CAMCRoIHead',
           'CAMCShared2FCBBoxHead', 'IIFShared2FCBBoxHead',
           'LabelAwareRoIHead', 'LongTailLVISMetric', 'OLTRShared2FCBBoxHead', 'LGRClsLoss',
           'LGRPredictor', 'LGRRoIHead']
