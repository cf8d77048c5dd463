"""Pixel-wise cross-entropy for label tasks (semseg, human parts)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .utils import check_pair, safe_divide


@MODELS.register_module()
class PixelCrossEntropyLoss(nn.Module):
    """Softmax cross-entropy averaged over the non-ignored pixels.

    This is the references' semseg / human-parts loss (``nn.NLLLoss`` on
    log-softmax with ``ignore_index=255``): the mean over valid pixels, or
    with ``class_weight`` the weighted mean (sum of per-pixel weights as the
    denominator, as ``torch.nn.functional.cross_entropy`` does).

    Args:
        ignore_index: target value of ignored pixels.
        class_weight: optional weight per class, length C.
    """

    def __init__(self, ignore_index: int = 255,
                 class_weight: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        weight = None if class_weight is None else torch.as_tensor(
            class_weight, dtype=torch.float32)
        self.register_buffer('class_weight', weight, persistent=False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Args: pred logits (B, C, H, W); target int (B, 1, H, W).

        Returns:
            Scalar tensor (0 with a gradient path when every pixel is
            ignored).
        """
        check_pair(pred, target, 1, type(self).__name__)
        if (self.class_weight is not None
                and self.class_weight.numel() != pred.shape[1]):
            raise ValueError(f'{type(self).__name__}: class_weight has '
                             f'{self.class_weight.numel()} entries but pred '
                             f'has {pred.shape[1]} classes')
        labels = target[:, 0].long()
        valid = labels != self.ignore_index
        total = F.cross_entropy(pred, labels, weight=self.class_weight,
                                ignore_index=self.ignore_index,
                                reduction='sum')
        if self.class_weight is None:
            count = valid.sum()
        else:
            safe_labels = torch.where(valid, labels, torch.zeros_like(labels))
            count = (self.class_weight[safe_labels] * valid).sum()
        return safe_divide(total, count)
