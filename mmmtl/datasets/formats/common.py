"""Decoders shared by several formats: indexed PNGs and ignore maps."""
import io
from typing import Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from mmmtl.datasets.decoders import (AnnotationError, ChannelError,
                                     ValueRangeError, read_bytes,
                                     register_decoder)


def _open(path: str) -> Image.Image:
    """PIL image of the file ``path`` (read first, so that a missing or
    unreadable file is not reported as a corrupted one)."""
    content = read_bytes(path)
    try:
        return Image.open(io.BytesIO(content))
    except (UnidentifiedImageError, OSError) as exc:
        raise AnnotationError(f'cannot decode image file (corrupted or not '
                              f'an image): {path}') from exc


def image_size(path: str) -> Tuple[int, int]:
    """(H, W) of an image file, read from its header."""
    with _open(path) as img:
        width, height = img.size
    return height, width


def read_indexed_png(path: str) -> np.ndarray:
    """Single-channel PNG (grey ``L`` or palette ``P``) -> its indices (H, W).

    Palette PNGs (as VOC ``SegmentationClass``) keep their indices, which
    ``cv2.imread`` would turn into colours.
    """
    with _open(path) as img:
        if img.mode not in ('L', 'P', 'I', 'I;16'):
            raise ChannelError(f'expected a single-channel (L or P mode) '
                               f'label PNG, got mode {img.mode}: {path}')
        try:
            return np.array(img)
        except OSError as exc:
            raise AnnotationError(f'cannot decode image file (corrupted or '
                                  f'truncated): {path}') from exc


@register_decoder('png_index')
def decode_png_index(path: str) -> np.ndarray:
    """Grey or palette label PNG, 255 = ignore -> uint8 (H, W)."""
    array = read_indexed_png(path)
    if array.max(initial=0) > 255:
        raise ValueRangeError(f'label values above 255 in {path}')
    return array.astype(np.uint8)


@register_decoder('ignore_like_image')
def decode_ignore_like_image(path: str, value: int = 255) -> np.ndarray:
    """An all-``value`` uint8 (H, W) map the size of the image at ``path``.

    Used for images that have no annotation of a task (e.g. no person in
    PASCAL-Context human parts): every pixel is ignored.
    """
    return np.full(image_size(path), value, dtype=np.uint8)
