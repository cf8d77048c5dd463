"""Optim wrappers: :class:`AutocastOptimWrapper`, bf16 autocast without loss
scaling (the one ``tools/train.py --amp --amp-dtype bfloat16`` selects when
there is no CUDA device, see :mod:`mmmtl.apis.train_options`).

It is registered in :data:`mmmtl.registry.OPTIM_WRAPPERS` when
:mod:`mmmtl.engine` is imported (as ``mmmtl.utils.register_all_modules``
does), so a dumped config naming ``type='AutocastOptimWrapper'`` builds
without importing :mod:`mmmtl.apis`.
"""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from torch import nn

from mmmtl.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward runs under bf16 autocast on the
    current device (CPU when there is no GPU), without loss scaling.

    Args:
        dtype: the autocast dtype; only ``'bfloat16'`` (fp16 needs loss
            scaling: use mmengine's ``AmpOptimWrapper`` on CUDA).
        **kwargs: ``OptimWrapper`` arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(
                f'AutocastOptimWrapper supports only bfloat16, got {dtype}; '
                'float16 needs loss scaling (AmpOptimWrapper, CUDA)')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """mmengine's context (gradient accumulation) plus bf16 autocast."""
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield
