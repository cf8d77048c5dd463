"""Measured inference speed of a multi-task segmentor on its device."""
import platform
import statistics
import time
from typing import Dict, Tuple

import torch
from torch import nn


def device_name(device: torch.device) -> str:
    """A readable name of ``device``: the GPU's name, or the CPU's
    architecture with the number of threads torch uses."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return (f'CPU {platform.machine()}, {torch.get_num_threads()} torch '
            'threads')


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def check_timing(batch_size: int, warmup: int, repeats: int) -> None:
    """Raise ``ValueError`` unless batch_size >= 1, warmup >= 0 and
    repeats >= 1."""
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ValueError(f'need batch_size >= 1, warmup >= 0 and repeats '
                         f'>= 1; got {batch_size}, {warmup}, {repeats}')


def inference_throughput(model: nn.Module, shape: Tuple[int, int],
                         batch_size: int = 1, warmup: int = 2,
                         repeats: int = 5) -> Dict:
    """Images per second of ``model.predict`` (eval mode, no grad) on
    random, already normalised images, on the device of the model's
    parameters: ``warmup`` untimed batches, then ``repeats`` timed ones.

    ``predict`` covers every task: backbone, heads, upsampling of the
    logits to the input size and post-processing (argmax, sigmoid,
    normalisation); data loading and preprocessing are not included.

    Returns:
        dict with ``device``, ``batch_size``, ``warmup``, ``repeats``,
        ``seconds`` (each timed batch), ``median_s`` and
        ``images_per_s`` (``batch_size / median_s``).
    """
    check_timing(batch_size, warmup, repeats)
    device = next(model.parameters()).device
    model.eval()
    inputs = torch.randn(batch_size, 3, *shape, device=device)
    seconds = []
    with torch.no_grad():
        for step in range(warmup + repeats):
            _synchronize(device)
            start = time.perf_counter()
            model.predict(inputs)
            _synchronize(device)
            if step >= warmup:
                seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return dict(device=device_name(device), batch_size=batch_size,
                warmup=warmup, repeats=repeats, seconds=seconds,
                median_s=median, images_per_s=batch_size / median)
