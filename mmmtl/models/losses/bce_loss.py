"""Class-weighted binary cross-entropy for binary tasks (saliency, edges).

Both losses follow the references' ``BalancedCrossEntropyLoss``
(Multi-Task-Learning-PyTorch ``losses/loss_functions.py``, reused by MTLoRA
and TADFormer ``mtl_loss_schemes.py``). With logits ``x``, labels
``y = [target >= 0.5]`` and the per-pixel BCE-with-logits ``l``, over the
valid pixels ``V`` (target != ``ignore_index``)::

    loss = (w * sum_{V, y=1} l + (1 - w) * sum_{V, y=0} l) / |V|

* ``BalancedBCELoss`` (saliency; the references call it with
  ``pos_weight=None``): ``w = |V, y=0| / |V|``, the fraction of negatives,
  so positives are weighted by the fraction of negatives and negatives by
  the fraction of positives (HED-style balancing).
* ``WeightedBCELoss`` (edges; the references use ``edge_w=0.95``): a fixed
  ``w = pos_weight``: positives weighted 0.95, negatives 0.05. Note this is
  *not* ``torch.nn.BCEWithLogitsLoss(pos_weight=...)``, which multiplies the
  positive term only.

Reduction: the references divide by the number of all pixels of the batch
(``size_average=True``, ``B*H*W``); they never pass ignored pixels for these
tasks, so dividing by ``|V|`` is identical there and stays a mean when the
preprocessor pads maps with ``ignore_index``.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .utils import check_pair, safe_divide


def weighted_bce(pred: Tensor, target: Tensor, pos_weight: Optional[float],
                 ignore_index: int) -> Tensor:
    """Class-weighted BCE of the module docstring.

    Args:
        pred: logits (B, 1, H, W).
        target: (B, 1, H, W) of 0/1 (or probabilities) with ``ignore_index``
            on ignored pixels.
        pos_weight: weight ``w`` of the positives; ``None`` for the balanced
            ``w = fraction of negatives``.
        ignore_index: value of ignored pixels.

    Returns:
        Scalar tensor.
    """
    valid = (target != ignore_index).to(pred.dtype)
    labels = (target.to(pred.dtype) >= 0.5).to(pred.dtype) * valid
    negatives = (1.0 - labels) * valid
    pixel_loss = F.binary_cross_entropy_with_logits(pred, labels,
                                                    reduction='none')
    count = valid.sum()
    if pos_weight is None:
        w = safe_divide(negatives.sum(), count)
    else:
        w = torch.as_tensor(pos_weight, dtype=pred.dtype, device=pred.device)
    total = (w * (pixel_loss * labels).sum()
             + (1.0 - w) * (pixel_loss * negatives).sum())
    return safe_divide(total, count)


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """Class-balanced BCE (saliency): positives weighted by the fraction of
    negatives among the valid pixels of the batch, and vice versa.

    Args:
        ignore_index: target value of ignored pixels.
        pos_weight: fixed weight of the positives in [0, 1] instead of the
            balanced one (``None``: balanced, as the references' saliency).
    """

    def __init__(self, ignore_index: int = 255,
                 pos_weight: Optional[float] = None) -> None:
        super().__init__()
        if pos_weight is not None and not 0.0 <= pos_weight <= 1.0:
            raise ValueError(f'{type(self).__name__}: pos_weight must lie in '
                             f'[0, 1], got {pos_weight}')
        self.ignore_index = ignore_index
        self.pos_weight = pos_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Args: pred logits (B, 1, H, W); target (B, 1, H, W)."""
        check_pair(pred, target, 1, type(self).__name__)
        return weighted_bce(pred, target, self.pos_weight, self.ignore_index)


@MODELS.register_module()
class WeightedBCELoss(BalancedBCELoss):
    """BCE with a fixed positive weight (the references' edge loss):
    ``(pos_weight * sum_pos + (1 - pos_weight) * sum_neg) / |valid|``.

    Args:
        pos_weight: weight of the positives (0.95 in the references; the
            negatives get ``1 - pos_weight``).
        ignore_index: target value of ignored pixels.
    """

    def __init__(self, pos_weight: float = 0.95,
                 ignore_index: int = 255) -> None:
        super().__init__(ignore_index=ignore_index, pos_weight=pos_weight)
