"""Annotation decoders: turn one annotation file into a task's gt array.

A dataset describes each task's annotation of an image as a small dict,
``dict(type='png_label', path='.../x.png', **options)``; the
``LoadMultiTaskAnnotations`` transform calls :func:`decode_annotation` on it.
Decoders return arrays in the in-memory formats of
:mod:`mmmtl.structures.tasks`. Dataset-specific formats (Pascal-Part
``.mat`` files, masked normals, ...) register their own decoders here.
"""
import os.path as osp
from typing import Callable, Dict

import cv2
import numpy as np

from mmmtl.structures import get_task

DecoderFn = Callable[..., np.ndarray]
_DECODERS: Dict[str, DecoderFn] = {}


class AnnotationError(ValueError):
    """An annotation file is missing, unreadable or holds invalid values."""


def register_decoder(name: str) -> Callable[[DecoderFn], DecoderFn]:
    """Decorator registering ``fn(path, **options) -> np.ndarray``."""
    def wrap(fn: DecoderFn) -> DecoderFn:
        if name in _DECODERS:
            raise KeyError(f'decoder {name!r} is already registered')
        _DECODERS[name] = fn
        return fn
    return wrap


def read_image_file(path: str, flag: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """``cv2.imread`` with errors that name the file."""
    if not osp.isfile(path):
        raise AnnotationError(f'file not found: {path}')
    array = cv2.imread(path, flag)
    if array is None:
        raise AnnotationError(f'cannot decode image file (corrupted or not '
                              f'an image): {path}')
    return array


def load_npy(path: str) -> np.ndarray:
    """``np.load`` with errors that name the file."""
    if not osp.isfile(path):
        raise AnnotationError(f'file not found: {path}')
    try:
        return np.load(path)
    except Exception as exc:  # numpy raises several types on bad files
        raise AnnotationError(f'cannot read .npy file {path}: {exc}') from exc


@register_decoder('png_label')
def decode_png_label(path: str) -> np.ndarray:
    """Single-channel PNG of class ids, 255 = ignore -> uint8 (H, W)."""
    array = read_image_file(path)
    if array.ndim != 2:
        raise AnnotationError(f'expected a single-channel label PNG, got '
                              f'shape {array.shape}: {path}')
    return array.astype(np.uint8)


@register_decoder('png_binary')
def decode_png_binary(path: str, threshold: float = 0.5) -> np.ndarray:
    """Grey PNG -> uint8 (H, W) of 0/1 (value/255 > threshold)."""
    array = read_image_file(path, cv2.IMREAD_GRAYSCALE)
    out = (array.astype(np.float32) / 255.0 > threshold).astype(np.uint8)
    return out


@register_decoder('png_normals')
def decode_png_normals(path: str) -> np.ndarray:
    """RGB PNG, v -> 2 v / 255 - 1 per channel -> float32 (H, W, 3).

    The result is L2-normalised; all-zero vectors stay zero (ignored).
    """
    bgr = read_image_file(path, cv2.IMREAD_COLOR)
    rgb = bgr[..., ::-1].astype(np.float32)
    normals = 2.0 * rgb / 255.0 - 1.0
    return normalize_vectors(normals)


@register_decoder('npy')
def decode_npy(path: str) -> np.ndarray:
    """``.npy`` array (H, W) or (H, W, C) as float32 (labels: see options)."""
    array = load_npy(path)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    return array.astype(np.float32)


def normalize_vectors(normals: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """L2-normalise (H, W, 3) vectors; vectors shorter than eps become 0."""
    norm = np.linalg.norm(normals, axis=2, keepdims=True)
    valid = norm > eps
    out = np.where(valid, normals / np.maximum(norm, eps), 0.0)
    return out.astype(np.float32)


def check_label_range(array: np.ndarray, num_classes: int, task: str,
                      path: str) -> None:
    """Raise when a label map holds a value outside [0, num_classes) + 255."""
    bad = (array != 255) & (array >= num_classes)
    if bad.any():
        values = np.unique(array[bad])[:10].tolist()
        raise AnnotationError(
            f'task {task!r}: label values {values} out of range for '
            f'{num_classes} classes (255 = ignore) in {path}')


def decode_annotation(task: str, ann: dict) -> np.ndarray:
    """Decode one task's annotation dict into the task's gt format.

    Args:
        task: task name (its :class:`TaskSpec` decides the checks).
        ann: ``dict(type=decoder name, path=..., num_classes=..., **options)``;
            ``num_classes`` (label tasks) enables the range check.

    Returns:
        np.ndarray in the task kind's in-memory format.
    """
    ann = dict(ann)
    name = ann.pop('type')
    num_classes = ann.pop('num_classes', None)
    if name not in _DECODERS:
        raise KeyError(f'unknown annotation decoder {name!r} for task '
                       f'{task!r}; known: {", ".join(sorted(_DECODERS))}')
    spec = get_task(task)
    array = _DECODERS[name](**ann)
    path = ann.get('path', '<no path>')
    if spec.kind == 'label' and num_classes is not None:
        check_label_range(array, num_classes, task, path)
    if spec.kind == 'binary':
        bad = (array != 255) & (array > 1)
        if bad.any():
            raise AnnotationError(f'task {task!r}: binary map holds values '
                                  f'other than 0/1/255 in {path}')
    if spec.kind == 'normal' and (array.ndim != 3 or array.shape[2] != 3):
        raise AnnotationError(f'task {task!r}: expected (H, W, 3) normals, '
                              f'got {array.shape} from {path}')
    return array
