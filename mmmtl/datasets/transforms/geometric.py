"""Geometric transforms that move the image and every task map together.

Each transform reads ``results['img']`` (H, W, 3) and ``results['gt_maps']``
(``{task: map}``, see :mod:`mmmtl.structures.tasks`), and applies the same
geometry to all of them; :mod:`.map_ops` decides how each task kind is
interpolated and filled.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmmtl.registry import TRANSFORMS
from mmmtl.structures import get_task
from .map_ops import (NORMAL_Y_AXES, flip_array, flip_map, pad_map, resize_map,
                      resize_then, scale_rotate_map, scale_rotate_matrix,
                      warp_map)

IMG_PAD_VALUE = 0


def _gt_maps(results: dict) -> Dict[str, np.ndarray]:
    return results.get('gt_maps', {})


def _pad_to(results: dict, shape: Tuple[int, int]) -> None:
    """Pad image (0) and maps (ignore values) bottom/right to ``shape``."""
    img = results['img']
    padded = np.full((shape[0], shape[1]) + img.shape[2:], IMG_PAD_VALUE,
                     dtype=img.dtype)
    padded[:img.shape[0], :img.shape[1]] = img
    results['img'] = padded
    for task, array in _gt_maps(results).items():
        results['gt_maps'][task] = pad_map(array, get_task(task), shape)


@TRANSFORMS.register_module()
class MultiTaskResize(BaseTransform):
    """Resize the image (bilinear) and every task map to one scale.

    Required keys: ``img``, ``gt_maps`` (optional).
    Modified keys: ``img``, ``img_shape``, ``gt_maps``.
    Added keys: ``scale``, ``scale_factor`` (w_scale, h_scale), ``keep_ratio``.

    Args:
        scale: target (w, h), the mmcv convention. With ``keep_ratio`` the
            image is rescaled to the largest size that fits (long edge
            <= max(scale), short edge <= min(scale)), as ``mmcv.imrescale``.
        keep_ratio: keep the aspect ratio.
    """

    def __init__(self, scale: Union[int, Tuple[int, int]],
                 keep_ratio: bool = False) -> None:
        super().__init__()
        if isinstance(scale, int):
            scale = (scale, scale)
        self.scale = tuple(scale)
        self.keep_ratio = keep_ratio

    def target_size(self, shape: Tuple[int, int],
                    scale: Tuple[int, int]) -> Tuple[int, int]:
        """Output (w, h) for an (h, w) input and a requested (w, h) scale."""
        if not self.keep_ratio:
            return int(scale[0]), int(scale[1])
        return mmcv.rescale_size((shape[1], shape[0]), scale)

    def resize(self, results: dict, scale: Tuple[int, int]) -> dict:
        """Resize ``results`` to the requested (w, h) ``scale``."""
        img = results['img']
        height, width = img.shape[:2]
        size = self.target_size((height, width), scale)
        results['img'] = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        for task, array in _gt_maps(results).items():
            results['gt_maps'][task] = resize_map(array, get_task(task), size)
        results['img_shape'] = results['img'].shape[:2]
        results['scale'] = tuple(scale)
        results['scale_factor'] = (size[0] / width, size[1] / height)
        results['keep_ratio'] = self.keep_ratio
        return results

    def transform(self, results: dict) -> dict:
        return self.resize(results, self.scale)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class MultiTaskRandomResize(MultiTaskResize):
    """Resize to ``scale`` times a ratio drawn uniformly from ``ratio_range``.

    Args:
        scale: base (w, h).
        ratio_range: (min, max) ratio; the target is
            (int(w * ratio), int(h * ratio)), as mmcv's ``RandomResize``.
        keep_ratio: keep the aspect ratio (default True).
    """

    def __init__(self,
                 scale: Union[int, Tuple[int, int]],
                 ratio_range: Tuple[float, float],
                 keep_ratio: bool = True) -> None:
        super().__init__(scale, keep_ratio)
        if len(ratio_range) != 2 or ratio_range[0] > ratio_range[1]:
            raise ValueError(f'ratio_range must be (min, max) with min <= '
                             f'max, got {ratio_range}')
        self.ratio_range = tuple(ratio_range)

    @cache_randomness
    def sample_scale(self) -> Tuple[int, int]:
        """Draw the target (w, h)."""
        low, high = self.ratio_range
        ratio = np.random.random_sample() * (high - low) + low
        return int(self.scale[0] * ratio), int(self.scale[1] * ratio)

    def transform(self, results: dict) -> dict:
        return self.resize(results, self.sample_scale())

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(BaseTransform):
    """Randomly crop the image and every task map.

    An image smaller than the crop is first padded bottom/right (image 0,
    maps their ignore value), so the output is always ``crop_size``.

    Required keys: ``img``, ``gt_maps`` (optional).
    Modified keys: ``img``, ``img_shape``, ``gt_maps``.

    Args:
        crop_size: (h, w) or an int, as mmseg's ``RandomCrop``.
        cat_max_ratio: largest fraction one class of ``cat_task`` may cover
            in the crop; up to 10 crops are drawn until one satisfies it
            (mmseg's rule). 1.0 disables the check.
        cat_task: the label task whose map the ratio is computed on; the
            check is skipped when the sample does not have it.
        ignore_index: label value excluded from the ratio.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]],
                 cat_max_ratio: float = 1.0,
                 cat_task: str = 'semseg',
                 ignore_index: int = 255) -> None:
        super().__init__()
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be a positive int or (h, w), '
                             f'got {crop_size}')
        self.crop_size = tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.cat_task = cat_task
        self.ignore_index = ignore_index

    def _random_bbox(self,
                     shape: Tuple[int, int]) -> Tuple[int, int, int, int]:
        offset_h = np.random.randint(0, shape[0] - self.crop_size[0] + 1)
        offset_w = np.random.randint(0, shape[1] - self.crop_size[1] + 1)
        return (offset_h, offset_h + self.crop_size[0], offset_w,
                offset_w + self.crop_size[1])

    def _balanced(self, label_map: np.ndarray, bbox: Tuple[int, ...]) -> bool:
        y1, y2, x1, x2 = bbox
        labels, counts = np.unique(label_map[y1:y2, x1:x2],
                                   return_counts=True)
        counts = counts[labels != self.ignore_index]
        return (len(counts) > 1
                and counts.max() / counts.sum() < self.cat_max_ratio)

    @cache_randomness
    def crop_bbox(self, results: dict) -> Tuple[int, int, int, int]:
        """Draw (y1, y2, x1, x2) inside the (already padded) image."""
        shape = results['img'].shape[:2]
        bbox = self._random_bbox(shape)
        label_map = _gt_maps(results).get(self.cat_task)
        if self.cat_max_ratio < 1.0 and label_map is not None:
            for _ in range(10):
                if self._balanced(label_map, bbox):
                    break
                bbox = self._random_bbox(shape)
        return bbox

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        if height < self.crop_size[0] or width < self.crop_size[1]:
            _pad_to(results, (max(height, self.crop_size[0]),
                              max(width, self.crop_size[1])))
        y1, y2, x1, x2 = self.crop_bbox(results)
        results['img'] = results['img'][y1:y2, x1:x2].copy()
        for task, array in _gt_maps(results).items():
            results['gt_maps'][task] = array[y1:y2, x1:x2].copy()
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio}, '
                f'cat_task={self.cat_task!r})')


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(BaseTransform):
    """Flip the image and every task map with probability ``prob``.

    Horizontal flips negate the x component of normals, vertical flips the
    y component (ignored zero vectors stay zero).

    Added keys: ``flip`` (bool), ``flip_direction`` (str or None).

    Args:
        prob: flip probability.
        direction: ``'horizontal'`` or ``'vertical'``.
    """

    DIRECTIONS = ('horizontal', 'vertical')

    def __init__(self, prob: float = 0.5,
                 direction: str = 'horizontal') -> None:
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in self.DIRECTIONS:
            raise ValueError(f'direction must be one of {self.DIRECTIONS}, '
                             f'got {direction!r}')
        self.prob = prob
        self.direction = direction

    @cache_randomness
    def do_flip(self) -> bool:
        """Draw whether to flip."""
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        flip = self.do_flip()
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        if not flip:
            return results
        results['img'] = flip_array(results['img'], self.direction)
        for task, array in _gt_maps(results).items():
            results['gt_maps'][task] = flip_map(array, get_task(task),
                                                self.direction)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


def scale_rotate(results: dict,
                 angle: float,
                 scale: float,
                 normal_y_axis: str = 'up') -> dict:
    """Rotate by ``angle`` degrees (counter-clockwise as displayed) and scale
    the image (bilinear, border 0) and every map about the image centre.

    The output keeps the input size; normals' x/y components rotate with the
    image, uncovered areas hold each task's ignore value.
    """
    img = results['img']
    height, width = img.shape[:2]
    matrix = scale_rotate_matrix((height, width), angle, scale)
    results['img'] = cv2.warpAffine(img, matrix, (width, height),
                                    flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=(IMG_PAD_VALUE, ) * 3)
    for task, array in _gt_maps(results).items():
        results['gt_maps'][task] = scale_rotate_map(array, get_task(task),
                                                    angle, scale,
                                                    normal_y_axis)
    return results


@TRANSFORMS.register_module()
class MultiTaskRandomScaleRotate(BaseTransform):
    """The references' scale-and-rotate augmentation for all tasks.

    With probability ``prob``, rotates by an angle drawn uniformly from
    [-max_rotate, max_rotate] degrees and zooms by a factor drawn uniformly
    from ``scale_range``, about the image centre; the output size is
    unchanged. Normals' in-plane components rotate with the image.

    Args:
        prob: probability of applying the augmentation.
        max_rotate: largest absolute angle in degrees.
        scale_range: (min, max) zoom factor.
        normal_y_axis: direction of the normals' y axis in the image:
            ``'up'`` (x right, y up, z towards the viewer) or ``'down'``.
    """

    def __init__(self,
                 prob: float = 0.5,
                 max_rotate: float = 20,
                 scale_range: Sequence[float] = (0.75, 1.25),
                 normal_y_axis: str = 'up') -> None:
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f'scale_range must be (min, max) with '
                             f'0 < min <= max, got {scale_range}')
        if normal_y_axis not in NORMAL_Y_AXES:
            raise ValueError(f'normal_y_axis must be one of {NORMAL_Y_AXES}, '
                             f'got {normal_y_axis!r}')
        self.prob = prob
        self.max_rotate = max_rotate
        self.scale_range = tuple(scale_range)
        self.normal_y_axis = normal_y_axis

    @cache_randomness
    def sample(self) -> Optional[Tuple[float, float]]:
        """Draw (angle, scale), or None when the sample is left unchanged."""
        if np.random.rand() >= self.prob:
            return None
        angle = np.random.uniform(-self.max_rotate, self.max_rotate)
        scale = np.random.uniform(*self.scale_range)
        return float(angle), float(scale)

    def transform(self, results: dict) -> dict:
        params = self.sample()
        if params is None:
            return results
        return scale_rotate(results, *params, normal_y_axis=self.normal_y_axis)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'max_rotate={self.max_rotate}, '
                f'scale_range={self.scale_range}, '
                f'normal_y_axis={self.normal_y_axis!r})')


@TRANSFORMS.register_module()
class MultiTaskRandomScaleRotateResize(MultiTaskResize):
    """``MultiTaskRandomScaleRotate`` then ``MultiTaskResize`` in one warp.

    Draws (angle, scale) exactly as :class:`MultiTaskRandomScaleRotate`
    (same random calls, so a seeded pipeline gets the same parameters).
    When the augmentation is skipped this is :class:`MultiTaskResize`;
    otherwise the scale-rotate matrix is composed with the resize and
    every map is warped once, straight to the output size: one
    interpolation instead of two, and no full-size intermediate maps
    (normals are re-normalised once).

    Args:
        scale: output (w, h), as :class:`MultiTaskResize`.
        keep_ratio: as :class:`MultiTaskResize`.
        prob, max_rotate, scale_range, normal_y_axis: as
            :class:`MultiTaskRandomScaleRotate`.
    """

    def __init__(self,
                 scale: Union[int, Tuple[int, int]],
                 keep_ratio: bool = False,
                 prob: float = 0.5,
                 max_rotate: float = 20,
                 scale_range: Sequence[float] = (0.75, 1.25),
                 normal_y_axis: str = 'up') -> None:
        super().__init__(scale, keep_ratio)
        self.scale_rotate = MultiTaskRandomScaleRotate(
            prob, max_rotate, scale_range, normal_y_axis)

    def transform(self, results: dict) -> dict:
        params = self.scale_rotate.sample()
        if params is None:
            return self.resize(results, self.scale)
        angle, zoom = params
        img = results['img']
        height, width = img.shape[:2]
        size = self.target_size((height, width), self.scale)
        matrix = resize_then(scale_rotate_matrix((height, width), angle, zoom),
                             (width, height), size)
        results['img'] = cv2.warpAffine(img, matrix, size,
                                        flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT,
                                        borderValue=(IMG_PAD_VALUE, ) * 3)
        for task, array in _gt_maps(results).items():
            results['gt_maps'][task] = warp_map(
                array, get_task(task), matrix, size, angle,
                self.scale_rotate.normal_y_axis)
        results['img_shape'] = results['img'].shape[:2]
        results['scale'] = tuple(self.scale)
        results['scale_factor'] = (size[0] / width, size[1] / height)
        results['keep_ratio'] = self.keep_ratio
        return results

    def __repr__(self) -> str:
        rotate = self.scale_rotate
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio}, prob={rotate.prob}, '
                f'max_rotate={rotate.max_rotate}, '
                f'scale_range={rotate.scale_range}, '
                f'normal_y_axis={rotate.normal_y_axis!r})')
