"""Shared helpers of the pixel losses."""
import torch
from torch import Tensor


def check_pair(pred: Tensor, target: Tensor, channels: int,
               name: str) -> None:
    """Check that ``target`` (B, channels, H, W) matches ``pred`` (B, C, H, W).

    Raises:
        ValueError: naming the loss and both shapes.
    """
    if pred.dim() != 4 or target.dim() != 4:
        raise ValueError(f'{name}: expected 4-D pred and target, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')
    if (pred.shape[0] != target.shape[0]
            or pred.shape[2:] != target.shape[2:]
            or target.shape[1] != channels):
        raise ValueError(f'{name}: target of shape {tuple(target.shape)} '
                         f'does not match pred {tuple(pred.shape)} '
                         f'(expected {channels} target channel(s))')


def safe_divide(total: Tensor, count: Tensor) -> Tensor:
    """``total / count``, or ``0`` (keeping the graph) when ``count == 0``.

    An all-ignored batch thus gives a zero loss whose gradient is zero
    instead of NaN.
    """
    count = count.to(total.dtype)
    return torch.where(count > 0, total / count.clamp_min(1e-12),
                       total * 0.0)
