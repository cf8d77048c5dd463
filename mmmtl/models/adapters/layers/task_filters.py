"""Spatial filters on a rank-r LoRA map, one per task stream (TADFormer).

Both filters take the T task streams' rank-r maps stacked task-major,
(T * M, r, h, w), and return the same shape; each stream is filtered as its
task asks, all tasks in one grouped convolution.

* :class:`StaticTaskFilter` (TADFormer's released code): a learned 3x3
  depthwise convolution (with bias) per task.
* :class:`DynamicTaskFilter` (the paper's Dynamic Task Filter, DTF): one
  module shared by the tasks that predicts a 3x3 depthwise kernel for every
  sample of every task stream from the stream itself: global average pool ->
  1x1 conv (r -> 9r) -> channel-wise filter normalisation -> per-sample
  depthwise convolution (no bias).
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KERNEL = 3


class StaticTaskFilter(nn.Module):
    """Per-task learned depthwise 3x3 convolution.

    Args:
        channels: r.
        num_tasks: T.
    """

    def __init__(self, channels: int, num_tasks: int):
        super().__init__()
        self.channels, self.num_tasks = channels, num_tasks
        self.weight = nn.Parameter(
            torch.empty(num_tasks, channels, 1, KERNEL, KERNEL))
        self.bias = nn.Parameter(torch.empty(num_tasks, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's ``Conv2d`` default, per task."""
        bound = 1 / math.sqrt(KERNEL * KERNEL)
        for weight in self.weight:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x: (T * M, r, h, w), task-major -> (T * M, r, h, w)."""
        num_tasks = self.num_tasks
        rows, channels, height, width = x.shape
        per_task = rows // num_tasks
        grouped = x.view(num_tasks, per_task, channels, height, width)
        grouped = grouped.transpose(0, 1).reshape(
            per_task, num_tasks * channels, height, width)
        out = F.conv2d(grouped, self.weight.view(-1, 1, KERNEL, KERNEL),
                       self.bias.reshape(-1), padding=KERNEL // 2,
                       groups=num_tasks * channels)
        out = out.view(per_task, num_tasks, channels, height, width)
        return out.transpose(0, 1).reshape(rows, channels, height, width)


class DynamicTaskFilter(nn.Module):
    """Dynamic Task Filter: sample-wise depthwise kernels, shared weights.

    Kernel of sample n (its map x_n, r channels)::

        w_n = FilterNorm(Conv1x1(GAP(x_n)))        (r, 3, 3)
        FilterNorm(k)[c] = std_c * (k[c] - mean(k[c])) / (sd(k[c]) + 1e-10)
                           + mean_c                 (per channel c, over
                                                     its 9 taps; sd unbiased)

    with learned ``norm_std``, ``norm_mean`` (9r each), initialised as in
    the DDF filter normalisation TADFormer follows: N(0, (sqrt(2)/3)^2) and
    N(0, 1).

    Args:
        channels: r.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        taps = channels * KERNEL * KERNEL
        self.conv = nn.Conv2d(channels, taps, 1)
        self.norm_std = nn.Parameter(torch.empty(taps))
        self.norm_mean = nn.Parameter(torch.empty(taps))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        gain = nn.init.calculate_gain('relu') / KERNEL
        with torch.no_grad():
            self.norm_std.normal_(0, gain)
            self.norm_mean.normal_(0, 1)

    def kernels(self, x: Tensor) -> Tensor:
        """x: (n, r, h, w) -> per-sample kernels (n, r, 3, 3)."""
        n = x.shape[0]
        raw = self.conv(F.adaptive_avg_pool2d(x, 1)).view(
            n, self.channels, KERNEL * KERNEL)
        centred = raw - raw.mean(dim=2, keepdim=True)
        normed = centred / (raw.std(dim=2, keepdim=True) + 1e-10)
        taps = normed.view(n, -1) * self.norm_std + self.norm_mean
        return taps.view(n, self.channels, KERNEL, KERNEL)

    def forward(self, x: Tensor) -> Tensor:
        """x: (n, r, h, w) -> (n, r, h, w), each sample its own kernels."""
        n, channels, height, width = x.shape
        weight = self.kernels(x).view(n * channels, 1, KERNEL, KERNEL)
        out = F.conv2d(x.reshape(1, n * channels, height, width), weight,
                       padding=KERNEL // 2, groups=n * channels)
        return out.view(n, channels, height, width)


TASK_FILTERS = ('dynamic', 'static')


def build_task_filter(kind: str, channels: int, num_tasks: int) -> nn.Module:
    """``'dynamic'`` (shared DTF) or ``'static'`` (one conv per task)."""
    if kind == 'dynamic':
        return DynamicTaskFilter(channels)
    if kind == 'static':
        return StaticTaskFilter(channels, num_tasks)
    raise ValueError(f'task_filter {kind!r} is not one of {TASK_FILTERS}')
