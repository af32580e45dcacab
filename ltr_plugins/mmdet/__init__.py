"""Adapters registered into mmdet's registries."""
from .datasets import LVISV1JsonDataset

__all__ = ['LVISV1JsonDataset']
