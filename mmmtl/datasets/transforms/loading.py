"""Load an image (errors naming the file) and every task's annotation of
it into ``results['gt_maps']``."""
from typing import Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from mmmtl.datasets.decoders import ImageDecodeError, decode_annotation
from mmmtl.registry import TRANSFORMS
from mmmtl.structures import get_task
from .map_ops import resize_map


CHECK_HINT = ('run tools/misc/check_dataset.py CONFIG to list every file '
              'of the split that training would stop on')


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` (same arguments), whose decoding
    failures are one :class:`~mmmtl.datasets.decoders.ImageDecodeError`
    naming the file instead of mmcv's ``AssertionError`` (or OpenCV's
    error for an empty file).

    Registered in mmmtl's scope, so configs naming ``LoadImageFromFile``
    get it; ``ignore_empty=True`` still returns ``None`` for files that
    cannot be read.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path', '<no img_path>')
        try:
            loaded = super().transform(results)
        except (AssertionError, cv2.error) as exc:  # mmcv asserts the image
            if self.ignore_empty:
                return None
            raise ImageDecodeError(
                f'cannot decode image file (truncated, corrupted or not an '
                f'image): {path}; {CHECK_HINT}') from exc
        return loaded


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Decode each task's annotation with :func:`decode_annotation`.

    Required keys: ``ann_info`` (``{task: dict(type=<decoder>, path=...)}``),
    ``tasks`` (optional; default all keys of ``ann_info``), ``ori_shape`` or
    ``img`` (optional; the size the maps are checked against).
    Added keys: ``gt_maps`` (``{task: np.ndarray}`` in the in-memory formats
    of :mod:`mmmtl.structures.tasks`).

    Maps are fitted to the *original* image (``ori_shape``, set by
    ``LoadImageFromFile``), so a test pipeline may resize the image before
    this transform and keep the ground truth at the original resolution.

    Args:
        size_mismatch: what to do with a map whose (H, W) differs from the
            original image's: ``'error'`` raises a ``ValueError`` naming the
            file, the task and both shapes; ``'resize'`` resizes the map to
            it (nearest for label/binary/scalar maps, bicubic plus
            re-normalisation for normals, ignored zero vectors stay zero).
    """

    MODES = ('error', 'resize')

    def __init__(self, size_mismatch: str = 'error') -> None:
        super().__init__()
        if size_mismatch not in self.MODES:
            raise ValueError(f'size_mismatch must be one of {self.MODES}, '
                             f'got {size_mismatch!r}')
        self.size_mismatch = size_mismatch

    @staticmethod
    def reference_shape(results: dict) -> Optional[Tuple[int, int]]:
        """(H, W) of the original image: ``ori_shape``, else the loaded
        ``img``'s shape, else None (no check)."""
        if results.get('ori_shape') is not None:
            return tuple(results['ori_shape'][:2])
        if results.get('img') is not None:
            return tuple(results['img'].shape[:2])
        return None

    def fit(self, array: np.ndarray, task: str, ann: dict,
            shape: Tuple[int, int]) -> np.ndarray:
        """Check (or resize) one map against the (H, W) ``shape``."""
        if tuple(array.shape[:2]) == shape:
            return array
        if self.size_mismatch == 'error':
            raise ValueError(
                f'task {task!r}: annotation {ann.get("path", "<no path>")} '
                f'has shape {tuple(array.shape[:2])} but the image has shape '
                f'{shape}; use LoadMultiTaskAnnotations('
                f"size_mismatch='resize') to resize it to the image")
        return resize_map(array, get_task(task), (shape[1], shape[0]),
                          normal_interpolation=cv2.INTER_CUBIC)

    def transform(self, results: dict) -> dict:
        ann_info = results['ann_info']
        tasks = tuple(results.get('tasks') or ann_info)
        shape = self.reference_shape(results)
        gt_maps = {}
        for task in tasks:
            get_task(task)
            if task not in ann_info:
                raise KeyError(
                    f'task {task!r} has no annotation in ann_info of '
                    f'{results.get("img_path", "<unknown image>")}; it has: '
                    f'{", ".join(ann_info)}')
            array = decode_annotation(task, ann_info[task])
            if shape is not None:
                array = self.fit(array, task, ann_info[task], shape)
            gt_maps[task] = array
        results['gt_maps'] = gt_maps
        results['tasks'] = tasks
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'size_mismatch={self.size_mismatch!r})')
