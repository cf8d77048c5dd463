"""Pixel losses against hand computations, ignore handling, empty batches."""
import math

import pytest
import torch

from mmmtl.models.losses import (BalancedBCELoss, DepthL1Loss, NormalsL1Loss,
                                 PixelCrossEntropyLoss, WeightedBCELoss)
from mmmtl.registry import MODELS


def _bce(x: float, y: float) -> float:
    p = 1.0 / (1.0 + math.exp(-x))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_cross_entropy_ignores_pixels():
    pred = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]], [[1.0, 3.0]]]])
    target = torch.tensor([[[[0, 255]]]])
    loss = PixelCrossEntropyLoss()(pred, target)
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.e))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_class_weight_is_weighted_mean():
    pred = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])
    target = torch.tensor([[[[0, 1]]]])
    loss = PixelCrossEntropyLoss(class_weight=[1.0, 3.0])(pred, target)
    l0 = -math.log(math.exp(2) / (math.exp(2) + 1))
    l1 = -math.log(math.e / (math.e + 1))
    assert loss.item() == pytest.approx((l0 + 3 * l1) / 4, rel=1e-6)


def test_balanced_bce_matches_hand_formula():
    logits = [1.0, -2.0, 0.5, 3.0, -1.0]
    labels = [1, 0, 0, 255, 0]
    pred = torch.tensor(logits).view(1, 1, 1, 5)
    target = torch.tensor(labels).view(1, 1, 1, 5)
    loss = BalancedBCELoss()(pred, target)
    valid = [(x, y) for x, y in zip(logits, labels) if y != 255]
    w = sum(1 for _, y in valid if y == 0) / len(valid)
    pos = sum(_bce(x, 1) for x, y in valid if y == 1)
    neg = sum(_bce(x, 0) for x, y in valid if y == 0)
    assert loss.item() == pytest.approx((w * pos + (1 - w) * neg) / 4,
                                        rel=1e-6)


def test_weighted_bce_fixed_positive_weight():
    pred = torch.tensor([0.3, -0.7, 2.0]).view(1, 1, 1, 3)
    target = torch.tensor([1, 0, 255]).view(1, 1, 1, 3)
    loss = MODELS.build(dict(type='WeightedBCELoss'))(pred, target)
    expected = (0.95 * _bce(0.3, 1) + 0.05 * _bce(-0.7, 0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert isinstance(MODELS.build(dict(type='WeightedBCELoss')),
                      WeightedBCELoss)


def test_normals_l1_normalises_and_skips_zero_vectors():
    pred = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 4.0]]).t().view(
        1, 3, 1, 2)
    target = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]).t().view(
        1, 3, 1, 2)
    loss = NormalsL1Loss()(pred, target)
    # pixel 0: normalised (1, 0, 0) vs (0, 1, 0) -> 1 + 1 + 0; pixel 1 ignored
    assert loss.item() == pytest.approx(2.0 / 3.0, rel=1e-6)
    raw = NormalsL1Loss(normalize=False)(pred, target)
    assert raw.item() == pytest.approx((2.0 + 1.0) / 3.0, rel=1e-6)


def test_depth_l1_on_valid_pixels():
    pred = torch.tensor([1.0, 2.0, 5.0]).view(1, 1, 1, 3)
    target = torch.tensor([1.5, 0.0, 3.0]).view(1, 1, 1, 3)
    loss = DepthL1Loss()(pred, target)
    assert loss.item() == pytest.approx((0.5 + 2.0) / 2, rel=1e-6)


@pytest.mark.parametrize('loss_cfg,channels,ignored', [
    (dict(type='PixelCrossEntropyLoss'), 4, 255),
    (dict(type='BalancedBCELoss'), 1, 255),
    (dict(type='WeightedBCELoss'), 1, 255),
    (dict(type='NormalsL1Loss'), 3, 0.0),
    (dict(type='DepthL1Loss'), 1, 0.0),
])
def test_all_ignored_batch_is_zero_with_gradient(loss_cfg, channels, ignored):
    torch.manual_seed(0)
    pred = torch.randn(2, channels, 3, 3, requires_grad=True)
    target_channels = 3 if loss_cfg['type'] == 'NormalsL1Loss' else 1
    dtype = torch.float32 if isinstance(ignored, float) else torch.int64
    target = torch.full((2, target_channels, 3, 3), ignored, dtype=dtype)
    loss = MODELS.build(loss_cfg)(pred, target)
    assert loss.item() == 0.0
    loss.backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all() and (pred.grad == 0).all()


def test_shape_mismatch_names_the_loss():
    with pytest.raises(ValueError, match='DepthL1Loss'):
        DepthL1Loss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2))
