"""mmmtl.models.segmentors: the multi-task segmentor."""
from .multitask_segmentor import MultiTaskSegmentor
from .postprocess import logits_to_prediction

__all__ = ['MultiTaskSegmentor', 'logits_to_prediction']
