"""Synthetic multi-task dataset: scene renderer, writer and dataset class."""
from .generate import (ensure_synthetic_dataset, generate_synthetic_dataset,
                       synthetic_cache_root)
from .scene import SYNTHETIC_CLASSES, render_scene

__all__ = [
    'ensure_synthetic_dataset', 'generate_synthetic_dataset',
    'synthetic_cache_root', 'SYNTHETIC_CLASSES', 'render_scene'
]
