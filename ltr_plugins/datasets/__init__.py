"""Framework-free data utilities: class statistics and the embedded long-tailed data generator."""
from .class_stats import (CSV_COLUMNS, LVIS_THRESHOLDS, LVIS_V1_TRAIN_IMAGES, LVIS_V05_TRAIN_IMAGES,
                          SHOT_THRESHOLDS, ClassStats, build_iif_from_config)

__all__ = ['ClassStats', 'SHOT_THRESHOLDS', 'LVIS_THRESHOLDS', 'LVIS_V1_TRAIN_IMAGES',
           'LVIS_V05_TRAIN_IMAGES', 'CSV_COLUMNS', 'build_iif_from_config']
