"""Datasets, annotation decoders and transforms."""
from . import formats, transforms  # noqa: F401
from .cache import user_cache_dir
from .decoders import AnnotationError, decode_annotation, register_decoder
from .multitask_dataset import MultiTaskDataset
from .nyud_mt import NYUDv2MTDataset
from .pascal_context_mt import PascalContextMTDataset
from .synthetic import generate_synthetic_dataset
from .synthetic_mt import SyntheticMultiTaskDataset

__all__ = [
    'AnnotationError', 'decode_annotation', 'register_decoder',
    'user_cache_dir', 'MultiTaskDataset', 'NYUDv2MTDataset',
    'PascalContextMTDataset', 'SyntheticMultiTaskDataset',
    'generate_synthetic_dataset'
]
