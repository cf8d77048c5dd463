"""Datasets, annotation decoders and transforms."""
from . import transforms  # noqa: F401
from .decoders import (AnnotationError, decode_annotation, register_decoder)

__all__ = ['AnnotationError', 'decode_annotation', 'register_decoder']
