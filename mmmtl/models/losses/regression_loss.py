"""L1 losses for continuous maps (surface normals, depth)."""
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .utils import check_pair, safe_divide


@MODELS.register_module()
class NormalsL1Loss(nn.Module):
    """L1 between (L2-normalised) predicted and ground-truth normals.

    A pixel is valid when its gt is not the zero vector. As in the
    references' ``NormalsLoss(normalize=True, size_average=True, norm=1)``,
    the prediction is divided by ``||pred||_2 + 1e-12`` and the summed
    absolute error is divided by the number of valid *elements*, i.e.
    ``3 * valid pixels`` (mean over valid pixels and channels).

    Args:
        normalize: L2-normalise the prediction over channels first.
    """

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Args: pred (B, 3, H, W); target unit vectors or zeros (B, 3, H, W).
        """
        check_pair(pred, target, 3, type(self).__name__)
        if pred.shape[1] != 3:
            raise ValueError(f'{type(self).__name__}: pred must have 3 '
                             f'channels, got {tuple(pred.shape)}')
        if self.normalize:
            pred = pred / (pred.norm(p=2, dim=1, keepdim=True) + 1e-12)
        valid = (target.abs().sum(dim=1, keepdim=True) > 0).to(pred.dtype)
        total = ((pred - target).abs() * valid).sum()
        return safe_divide(total, valid.sum() * pred.shape[1])


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """Mean absolute error over valid pixels (references' depth loss).

    Args:
        invalid_value: gt value of pixels without depth.
    """

    def __init__(self, invalid_value: float = 0.0) -> None:
        super().__init__()
        self.invalid_value = invalid_value

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Args: pred (B, 1, H, W); target (B, 1, H, W)."""
        check_pair(pred, target, 1, type(self).__name__)
        valid = (target != self.invalid_value).to(pred.dtype)
        total = (F.l1_loss(pred, target.to(pred.dtype), reduction='none')
                 * valid).sum()
        return safe_divide(total, valid.sum())
