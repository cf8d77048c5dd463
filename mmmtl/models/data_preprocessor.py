"""Multi-task data preprocessor (see docs/en/architecture.md)."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample, get_task

__all__ = ['MultiTaskDataPreProcessor', 'pad_tensor']


def pad_tensor(tensor: torch.Tensor, shape: Tuple[int, int],
               value: float) -> torch.Tensor:
    """Pad a (C, H, W) tensor bottom/right to (C, h, w) with ``value``."""
    height, width = tensor.shape[-2:]
    if height > shape[0] or width > shape[1]:
        raise ValueError(f'cannot pad a {height}x{width} tensor to the '
                         f'smaller shape {shape[0]}x{shape[1]}')
    out = tensor.new_full(tensor.shape[:-2] + tuple(shape), value)
    out[..., :height, :width] = tensor
    return out


@MODELS.register_module()
class MultiTaskDataPreProcessor(BaseDataPreprocessor):
    """Normalise and pad images; pad every task map in training.

    Input ``data`` is what the dataloader yields from
    ``PackMultiTaskInputs``: ``inputs`` a list of (3, H_i, W_i) tensors (or a
    stacked (B, 3, H, W) tensor) and ``data_samples`` a list of
    :class:`MultiTaskDataSample`.

    Steps: move to the model's device, cast to float32, convert the channel
    order, normalise ``(x - mean) / std``, pad bottom/right with ``pad_val``
    to the batch shape and stack to (B, 3, H, W). The batch shape is the
    largest (H, W) of the batch, or ``pad_size``, rounded up to a multiple of
    ``size_divisor``. In training every task map of every sample is padded
    to the same shape with its task's ``ignore_value``; in test mode the
    maps keep their own size (they may be at the original resolution).
    ``batch_input_shape`` and ``pad_shape`` are set on every sample.

    Args:
        mean: per-channel mean (in the output channel order), or None.
        std: per-channel std, or None (both or neither).
        bgr_to_rgb: swap BGR input to RGB.
        rgb_to_bgr: swap RGB input to BGR.
        pad_val: value of padded image pixels (after normalisation).
        size_divisor: round the batch shape up to a multiple of this.
        pad_size: fixed (h, w) batch shape; a larger image raises.
        non_blocking: non-blocking device copies.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 pad_val: float = 0,
                 size_divisor: Optional[int] = None,
                 pad_size: Optional[Tuple[int, int]] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('bgr_to_rgb and rgb_to_bgr cannot both be True')
        if (mean is None) != (std is None):
            raise ValueError('mean and std must be given together')
        if size_divisor is not None and size_divisor <= 0:
            raise ValueError(f'size_divisor must be positive, got '
                             f'{size_divisor}')
        self.swap_channels = bgr_to_rgb or rgb_to_bgr
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer(
                'mean',
                torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
            self.register_buffer(
                'std',
                torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.pad_val = pad_val
        self.size_divisor = size_divisor
        self.pad_size = tuple(pad_size) if pad_size is not None else None

    def batch_shape(self, images: List[torch.Tensor]) -> Tuple[int, int]:
        """(H, W) every image of the batch is padded to."""
        height = max(img.shape[-2] for img in images)
        width = max(img.shape[-1] for img in images)
        if self.pad_size is not None:
            if height > self.pad_size[0] or width > self.pad_size[1]:
                raise ValueError(f'an image of the batch ({height}x{width} '
                                 f'max) is larger than pad_size '
                                 f'{self.pad_size}')
            height, width = self.pad_size
        if self.size_divisor is not None:
            height = math.ceil(height / self.size_divisor) * self.size_divisor
            width = math.ceil(width / self.size_divisor) * self.size_divisor
        return int(height), int(width)

    def preprocess_image(self, img: torch.Tensor) -> torch.Tensor:
        """(3, H, W) any dtype -> normalised float32 (3, H, W)."""
        img = img.float()
        if self.swap_channels:
            img = img.flip(0)
        if self.normalize:
            img = (img - self.mean) / self.std
        return img

    @staticmethod
    def pad_gt_maps(sample: MultiTaskDataSample,
                    shape: Tuple[int, int]) -> None:
        """Replace ``sample.gt_maps`` by maps padded with ignore values."""
        padded = {}
        for task in sample.gt_maps.keys():
            tensor = sample.gt_maps.get(task)
            try:
                padded[task] = pad_tensor(tensor, shape,
                                          get_task(task).ignore_value)
            except ValueError as exc:
                raise ValueError(
                    f'task {task!r} of {sample.metainfo.get("img_path")}: '
                    f'{exc}; training maps must have the image size') from exc
        sample.gt_maps = PixelData(**padded)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Return ``dict(inputs=float Tensor (B, 3, H, W), data_samples)``."""
        data = self.cast_data(data)
        inputs: Union[torch.Tensor, List[torch.Tensor]] = data['inputs']
        images = [self.preprocess_image(img) for img in inputs]
        shape = self.batch_shape(images)
        batch = torch.stack(
            [pad_tensor(img, shape, self.pad_val) for img in images])
        samples = data.get('data_samples')
        if samples is not None:
            for sample in samples:
                sample.set_metainfo(
                    dict(batch_input_shape=shape, pad_shape=shape))
                if training and 'gt_maps' in sample:
                    self.pad_gt_maps(sample, shape)
        return dict(inputs=batch, data_samples=samples)
