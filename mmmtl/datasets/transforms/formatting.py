"""Pack a pipeline's results into model inputs and a MultiTaskDataSample."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from mmmtl.registry import TRANSFORMS
from mmmtl.structures import MultiTaskDataSample, TaskSpec, get_task

DEFAULT_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'tasks',
                     'img_id', 'sample_idx')


def map_to_tensor(array: np.ndarray, spec: TaskSpec) -> torch.Tensor:
    """Convert one in-memory gt map to its packed tensor.

    Returns:
        torch.Tensor: label/binary int64 (1, H, W); normal float32 (3, H, W);
        scalar float32 (1, H, W).
    """
    if spec.kind == 'normal':
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f'task {spec.name!r}: expected (H, W, 3) '
                             f'normals, got {array.shape}')
        return torch.from_numpy(
            np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))
    if array.ndim != 2:
        raise ValueError(f'task {spec.name!r}: expected an (H, W) map, got '
                         f'{array.shape}')
    dtype = np.int64 if spec.is_discrete else np.float32
    return torch.from_numpy(np.ascontiguousarray(array[None], dtype=dtype))


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) or (H, W) array -> (C, H, W) tensor, dtype unchanged."""
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack ``img`` and ``gt_maps`` for :class:`MultiTaskDataPreProcessor`.

    Returns ``dict(inputs, data_samples)``: ``inputs`` is a (3, H, W) tensor
    that keeps the image's dtype and channel order (uint8 BGR as
    loaded); ``data_samples.gt_maps`` is a ``PixelData`` with one field per
    task (see :func:`map_to_tensor`) when ``results`` has ``gt_maps``.

    Args:
        meta_keys: keys copied into the sample's metainfo when present
            (missing keys are skipped).
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__()
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        packed = dict(inputs=image_to_tensor(results['img']))
        sample = MultiTaskDataSample()
        gt_maps: Dict[str, np.ndarray] = results.get('gt_maps') or {}
        if gt_maps:
            sample.gt_maps = PixelData(**{
                task: map_to_tensor(array, get_task(task))
                for task, array in gt_maps.items()
            })
        sample.set_metainfo({
            key: results[key]
            for key in self.meta_keys if key in results
        })
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
