"""Geometric operations on one task's ground-truth map, by task kind.

Every function takes a map in the in-memory format of
:mod:`mmmtl.structures.tasks` (``label``/``binary`` uint8 (H, W), ``normal``
float32 (H, W, 3), ``scalar`` float32 (H, W)) and the task's
:class:`~mmmtl.structures.TaskSpec`, and returns a new map in the same format.

* ``label``, ``binary`` and ``scalar`` maps use nearest interpolation, so no
  new value is ever created (no blending across depth discontinuities).
  Resizing uses ``cv2.INTER_NEAREST_EXACT``, which samples pixel centres
  like the bilinear image resize (``cv2.INTER_NEAREST`` is offset by up to
  a source pixel when downscaling, which misaligns maps and image).
* ``normal`` maps are interpolated (bilinear by default), re-normalised to
  unit length, and every pixel whose nearest source pixel was ignored (zero
  vector) stays a zero vector.
* Areas without a source pixel (padding, rotated-in corners) hold the task's
  ``ignore_value``.

Normal vectors follow the right-handed camera convention x right, y up,
z towards the viewer unless ``normal_y_axis='down'`` says that y follows the
image rows.
"""
import math
from typing import Tuple

import cv2
import numpy as np

from mmmtl.datasets.decoders import normalize_vectors
from mmmtl.structures import TaskSpec

NORMAL_Y_AXES = ('up', 'down')
CV_FLIP_DTYPES = tuple(
    np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32,
                          np.float32, np.float64))


def normal_validity(normals: np.ndarray) -> np.ndarray:
    """uint8 (H, W) mask, 1 where the (H, W, 3) normal is not a zero vector."""
    nonzero = (normals != 0).view(np.uint8)
    return nonzero[..., 0] | nonzero[..., 1] | nonzero[..., 2]


def resize_map(array: np.ndarray,
               spec: TaskSpec,
               size: Tuple[int, int],
               normal_interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resize a task map to ``size`` = (w, h).

    Args:
        array: the task's gt map, (H, W) or (H, W, 3) for normals.
        spec: the task's spec (its kind picks the interpolation).
        size: output (w, h), the cv2 / mmcv convention.
        normal_interpolation: cv2 flag for normal maps (bilinear by default;
            the references use bicubic when fitting annotations to images).

    Returns:
        np.ndarray: (h, w) or (h, w, 3), same dtype.
    """
    size = (int(size[0]), int(size[1]))
    if spec.kind != 'normal':
        return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST_EXACT)
    resized = cv2.resize(array, size, interpolation=normal_interpolation)
    valid = cv2.resize(normal_validity(array), size,
                       interpolation=cv2.INTER_NEAREST_EXACT).astype(bool)
    out = normalize_vectors(resized)
    out[~valid] = 0.0
    return out


def flip_array(array: np.ndarray, direction: str) -> np.ndarray:
    """A flipped contiguous copy of an (H, W) or (H, W, C) array.

    ``cv2.flip`` (several times faster than a negative-stride copy) for
    the dtypes and channel counts OpenCV handles, numpy otherwise.
    """
    if direction not in ('horizontal', 'vertical'):
        raise ValueError(f'flip direction must be "horizontal" or '
                         f'"vertical", got {direction!r}')
    code = 1 if direction == 'horizontal' else 0
    if array.dtype in CV_FLIP_DTYPES and (array.ndim == 2 or (
            array.ndim == 3 and array.shape[2] <= 4)):
        return cv2.flip(array, code)
    axis = 1 if direction == 'horizontal' else 0
    return np.flip(array, axis).copy()


def flip_map(array: np.ndarray, spec: TaskSpec, direction: str) -> np.ndarray:
    """Flip a task map; normals' x (horizontal) or y (vertical) is negated.

    Args:
        array: the task's gt map, (H, W) or (H, W, 3).
        spec: the task's spec.
        direction: ``'horizontal'`` or ``'vertical'``.

    Returns:
        np.ndarray: the flipped map, same shape and dtype.
    """
    out = flip_array(array, direction)
    if spec.kind == 'normal':
        component = out[..., 0 if direction == 'horizontal' else 1]
        np.negative(component, out=component)
        component += 0.0  # -0.0 + 0.0 = +0.0: no negative zeros
    return out


def pad_map(array: np.ndarray, spec: TaskSpec,
            shape: Tuple[int, int]) -> np.ndarray:
    """Pad a task map bottom/right to ``shape`` = (h, w) with its ignore value.

    Args:
        array: the task's gt map, (H, W) or (H, W, 3) with H <= h, W <= w.
        spec: the task's spec (its ``ignore_value`` fills the new area).
        shape: output (h, w).

    Returns:
        np.ndarray: (h, w) or (h, w, 3), same dtype.
    """
    height, width = array.shape[:2]
    if height > shape[0] or width > shape[1]:
        raise ValueError(f'task {spec.name!r}: cannot pad a {height}x{width} '
                         f'map to the smaller shape {shape[0]}x{shape[1]}')
    out = np.full((shape[0], shape[1]) + array.shape[2:], spec.ignore_value,
                  dtype=array.dtype)
    out[:height, :width] = array
    return out


def scale_rotate_matrix(shape: Tuple[int, int], angle: float,
                        scale: float) -> np.ndarray:
    """2x3 affine matrix rotating by ``angle`` degrees (counter-clockwise as
    displayed) and scaling by ``scale`` about the centre of an (h, w) image.

    The centre is ((w - 1) / 2, (h - 1) / 2), so a 90 degree rotation of a
    square image maps pixel centres onto pixel centres exactly.
    """
    height, width = shape
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    return cv2.getRotationMatrix2D(centre, float(angle), float(scale))


def resize_then(matrix: np.ndarray, src_size: Tuple[int, int],
                dst_size: Tuple[int, int]) -> np.ndarray:
    """Compose a 2x3 affine ``matrix`` with a resize of its (w, h) output
    ``src_size`` to ``dst_size``, pixel centres aligned as in
    ``cv2.resize`` (x' = (x + 0.5) * sx - 0.5): one warp then does both.
    """
    scale_x = dst_size[0] / src_size[0]
    scale_y = dst_size[1] / src_size[1]
    resize = np.array([[scale_x, 0.0, 0.5 * scale_x - 0.5],
                       [0.0, scale_y, 0.5 * scale_y - 0.5]])
    composed = resize[:, :2] @ matrix
    composed[:, 2] += resize[:, 2]
    return composed


def rotate_normals(normals: np.ndarray, angle: float,
                   normal_y_axis: str = 'up') -> np.ndarray:
    """Rotate the in-plane (x, y) components of (H, W, 3) normals by
    ``angle`` degrees, counter-clockwise as displayed (zeros stay zero)."""
    if normal_y_axis not in NORMAL_Y_AXES:
        raise ValueError(f'normal_y_axis must be one of {NORMAL_Y_AXES}, got '
                         f'{normal_y_axis!r}')
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    if normal_y_axis == 'down':
        sin = -sin
    x, y = normals[..., 0], normals[..., 1]
    out = normals.copy()
    out[..., 0] = cos * x - sin * y
    out[..., 1] = sin * x + cos * y
    return out


def warp_map(array: np.ndarray,
             spec: TaskSpec,
             matrix: np.ndarray,
             size: Tuple[int, int],
             angle: float = 0.0,
             normal_y_axis: str = 'up') -> np.ndarray:
    """Warp a task map with a 2x3 affine ``matrix`` to ``size`` = (w, h).

    Label/binary/scalar maps are sampled nearest; normals bilinearly, their
    in-plane components rotated by the warp's ``angle`` (degrees,
    counter-clockwise as displayed), re-normalised, and zero wherever the
    nearest source pixel was ignored. Uncovered pixels hold the task's
    ignore value.

    Returns:
        np.ndarray: (h, w) or (h, w, 3), same dtype.
    """
    size = (int(size[0]), int(size[1]))
    if spec.kind != 'normal':
        return cv2.warpAffine(array, matrix, size, flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT,
                              borderValue=float(spec.ignore_value))
    warped = cv2.warpAffine(array, matrix, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT,
                            borderValue=(0.0, 0.0, 0.0))
    valid = cv2.warpAffine(normal_validity(array), matrix, size,
                           flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0).astype(bool)
    if angle:
        warped = rotate_normals(warped, angle, normal_y_axis)
    out = normalize_vectors(warped)
    out[~valid] = 0.0
    return out


def scale_rotate_map(array: np.ndarray,
                     spec: TaskSpec,
                     angle: float,
                     scale: float,
                     normal_y_axis: str = 'up') -> np.ndarray:
    """Rotate and scale a task map about its centre, output size unchanged.

    Args:
        array: the task's gt map, (H, W) or (H, W, 3).
        spec: the task's spec.
        angle: degrees, counter-clockwise as displayed.
        scale: isotropic zoom factor.
        normal_y_axis: ``'up'`` or ``'down'``: the direction of the normals'
            y axis in the image (only used for normal maps).

    Returns:
        np.ndarray: same shape and dtype; uncovered pixels hold the task's
        ignore value.
    """
    height, width = array.shape[:2]
    matrix = scale_rotate_matrix((height, width), angle, scale)
    return warp_map(array, spec, matrix, (width, height), angle,
                    normal_y_axis)
