"""Evaluation metrics registered in ``mmmtl.registry.METRICS``."""
from .multitask_metric import MultiTaskMetric

__all__ = ['MultiTaskMetric']
