"""Annotation decoders: turn one annotation file into a task's gt array.

A dataset describes each task's annotation of an image as a small dict,
``dict(type='png_label', path='.../x.png', **options)``; the
``LoadMultiTaskAnnotations`` transform calls :func:`decode_annotation` on it.
Decoders return arrays in the in-memory formats of
:mod:`mmmtl.structures.tasks`. Dataset-specific formats (Pascal-Part
``.mat`` files, masked normals, ...) register their own decoders here.

Every error is an :class:`AnnotationError` naming the file; its subclass
(and its ``problem`` attribute) says what is wrong: missing file, values
out of range, wrong number of channels, or (the base class) a file that
cannot be read or decoded.
"""
import io
import os.path as osp
from typing import Callable, Dict

import cv2
import numpy as np

from mmmtl.structures import get_task

DecoderFn = Callable[..., np.ndarray]
_DECODERS: Dict[str, DecoderFn] = {}


class AnnotationError(ValueError):
    """An annotation file cannot be read, decoded or holds invalid values."""

    #: problem kind reported by ``tools/misc/check_dataset.py``.
    problem = 'unreadable file'


class MissingFileError(AnnotationError):
    """An annotation (or image) file does not exist."""

    problem = 'missing file'


class ImageDecodeError(AnnotationError):
    """An image file exists but cannot be decoded (truncated, corrupted or
    not an image)."""


class ValueRangeError(AnnotationError):
    """A label or binary map holds values outside its task's range."""

    problem = 'label values out of range'


class ChannelError(AnnotationError):
    """A map has the wrong number of channels (or bit depth) for its task."""

    problem = 'wrong number of channels'


def register_decoder(name: str) -> Callable[[DecoderFn], DecoderFn]:
    """Decorator registering ``fn(path, **options) -> np.ndarray``."""
    def wrap(fn: DecoderFn) -> DecoderFn:
        if name in _DECODERS:
            raise KeyError(f'decoder {name!r} is already registered')
        _DECODERS[name] = fn
        return fn
    return wrap


def read_bytes(path: str) -> bytes:
    """The content of the file ``path``.

    Raises :class:`MissingFileError` when it does not exist and
    :class:`AnnotationError` (with the system's reason, e.g. permission
    denied) when it cannot be read, so that neither is mistaken for a
    corrupted file.
    """
    if not osp.isfile(path):
        raise MissingFileError(f'file not found: {path}')
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as exc:
        raise AnnotationError(f'cannot read file {path}: '
                              f'{exc.strerror or exc}') from exc


def read_image_file(path: str, flag: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Read and decode an image file (``cv2.imdecode`` with ``flag``);
    errors name the file."""
    content = np.frombuffer(read_bytes(path), dtype=np.uint8)
    array = cv2.imdecode(content, flag) if content.size else None
    if array is None:
        raise AnnotationError(f'cannot decode image file (corrupted or not '
                              f'an image): {path}')
    return array


def load_npy(path: str) -> np.ndarray:
    """``np.load`` of a ``.npy`` file with errors that name the file."""
    content = read_bytes(path)
    try:
        return np.load(io.BytesIO(content))
    except Exception as exc:  # numpy raises several types on bad files
        raise AnnotationError(f'cannot read .npy file {path}: {exc}') from exc


def require_uint8(array: np.ndarray, path: str) -> np.ndarray:
    """Raise :class:`ChannelError` unless ``array`` is 8-bit."""
    if array.dtype != np.uint8:
        raise ChannelError(f'expected an 8-bit image, got {array.dtype} '
                           f'values: {path}')
    return array


def grey_channel(array: np.ndarray, path: str) -> np.ndarray:
    """(H, W) of a grey image; a colour image is accepted only when its
    colour channels are equal (grey stored as RGB), never mixed down."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[2] == 3 and (
            np.array_equal(array[..., 0], array[..., 1])
            and np.array_equal(array[..., 0], array[..., 2])):
        array = array[..., 0]
    if array.ndim != 2:
        raise ChannelError(f'expected a single-channel (grey) image, got '
                           f'shape {array.shape} with differing channels: '
                           f'{path}')
    return array


@register_decoder('png_label')
def decode_png_label(path: str) -> np.ndarray:
    """Single-channel PNG of class ids, 255 = ignore -> uint8 (H, W)."""
    array = read_image_file(path)
    if array.ndim != 2:
        raise ChannelError(f'expected a single-channel label PNG, got '
                           f'shape {array.shape}: {path}')
    if array.max(initial=0) > 255:
        raise ValueRangeError(f'label values above 255 in {path}')
    return array.astype(np.uint8)


@register_decoder('png_binary')
def decode_png_binary(path: str, threshold: float = 0.5) -> np.ndarray:
    """8-bit grey PNG -> uint8 (H, W) of 0/1 (value/255 > threshold).

    A 3-channel PNG is accepted only when its channels are equal.
    """
    array = grey_channel(require_uint8(read_image_file(path), path), path)
    table = (np.arange(256, dtype=np.float32) / 255.0 > threshold)
    return cv2.LUT(array, table.astype(np.uint8))


#: ``2 v / 255 - 1`` in float32 for every 8-bit value ``v`` (a table
#: lookup is exact and several times faster than the arithmetic per pixel).
_NORMAL_LUT = 2.0 * np.arange(256, dtype=np.float32) / 255.0 - 1.0


@register_decoder('png_normals')
def decode_png_normals(path: str) -> np.ndarray:
    """8-bit RGB PNG, v -> 2 v / 255 - 1 per channel -> float32 (H, W, 3).

    The result is L2-normalised; all-zero vectors stay zero (ignored). A
    grey, grey+alpha or RGBA PNG is an error, not broadcast or cropped to
    three channels.
    """
    bgr = require_uint8(read_image_file(path), path)
    if bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ChannelError(f'expected a 3-channel (RGB) normals PNG, got '
                           f'shape {bgr.shape}: {path}')
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return normalize_vectors(cv2.LUT(rgb, _NORMAL_LUT))


@register_decoder('npy')
def decode_npy(path: str) -> np.ndarray:
    """``.npy`` array (H, W) or (H, W, C) as float32 (labels: see options)."""
    array = load_npy(path)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    return array.astype(np.float32)


def normalize_vectors(normals: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """L2-normalise (H, W, 3) vectors; vectors shorter than eps become 0.

    Computed in float32 one component plane at a time (several times faster
    than ``np.linalg.norm`` over the interleaved last axis and a masked
    3-channel assignment); returns a new float32 array.
    """
    vectors = np.asarray(normals, dtype=np.float32)
    norm = np.zeros(vectors.shape[:2], dtype=np.float32)
    for k in range(3):
        norm += vectors[..., k] * vectors[..., k]
    np.sqrt(norm, out=norm)
    invalid = ~(norm > eps)
    np.maximum(norm, eps, out=norm)
    out = np.empty(vectors.shape, dtype=np.float32)
    for k in range(3):
        plane = out[..., k]
        np.divide(vectors[..., k], norm, out=plane)
        plane[invalid] = 0.0
    return out


def check_label_range(array: np.ndarray, num_classes: int, task: str,
                      path: str) -> None:
    """Raise when a label map holds a value outside [0, num_classes) + 255."""
    bad = (array != 255) & (array >= num_classes)
    if bad.any():
        values = np.unique(array[bad])[:10].tolist()
        raise ValueRangeError(
            f'task {task!r}: label values {values} out of range for '
            f'{num_classes} classes (255 = ignore) in {path}')


def check_channels(task: str, array: np.ndarray, path: str) -> None:
    """Raise :class:`ChannelError` unless ``array`` has the shape of its
    task's kind: (H, W, 3) for normals, (H, W) for every other kind."""
    if get_task(task).kind == 'normal':
        if array.ndim != 3 or array.shape[2] != 3:
            raise ChannelError(f'task {task!r}: expected (H, W, 3) normals, '
                               f'got {array.shape} from {path}')
    elif array.ndim != 2:
        raise ChannelError(f'task {task!r}: expected a single-channel '
                           f'(H, W) map, got {array.shape} from {path}')


def decode_annotation(task: str, ann: dict) -> np.ndarray:
    """Decode one task's annotation dict into the task's gt format.

    Args:
        task: task name (its :class:`TaskSpec` decides the checks).
        ann: ``dict(type=decoder name, path=..., num_classes=..., **options)``;
            ``num_classes`` (label tasks) enables the range check.

    Returns:
        np.ndarray in the task kind's in-memory format.

    Raises:
        AnnotationError: the file is missing, unreadable, has the wrong
            number of channels for the task or values out of range.
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
    check_channels(task, array, path)
    if spec.kind == 'label' and num_classes is not None:
        check_label_range(array, num_classes, task, path)
    if spec.kind == 'binary':
        bad = (array != 255) & (array > 1)
        if bad.any():
            raise ValueRangeError(f'task {task!r}: binary map holds values '
                                  f'other than 0/1/255 in {path}')
    return array
