"""mmmtl.models.losses: per-task pixel losses with the ignore logic inside."""
from .bce_loss import BalancedBCELoss, WeightedBCELoss, weighted_bce
from .cross_entropy_loss import PixelCrossEntropyLoss
from .regression_loss import DepthL1Loss, NormalsL1Loss

__all__ = ['PixelCrossEntropyLoss', 'BalancedBCELoss', 'WeightedBCELoss',
           'weighted_bce', 'NormalsL1Loss', 'DepthL1Loss']
