"""Multi-task transforms: every task map moves with the image."""
from .formatting import PackMultiTaskInputs
from .geometric import (MultiTaskRandomCrop, MultiTaskRandomFlip,
                        MultiTaskRandomResize, MultiTaskRandomScaleRotate,
                        MultiTaskRandomScaleRotateResize,
                        MultiTaskResize, scale_rotate)
from .loading import LoadImageFromFile, LoadMultiTaskAnnotations

__all__ = [
    'LoadImageFromFile', 'LoadMultiTaskAnnotations', 'MultiTaskResize',
    'MultiTaskRandomResize',
    'MultiTaskRandomCrop', 'MultiTaskRandomFlip', 'MultiTaskRandomScaleRotate',
    'MultiTaskRandomScaleRotateResize',
    'scale_rotate', 'PackMultiTaskInputs'
]
