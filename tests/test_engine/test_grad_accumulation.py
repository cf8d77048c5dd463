"""Gradient accumulation (mmengine ``accumulative_counts``) with the
multi-task segmentor.

K ``train_step`` calls on micro-batches of b images give the update of one
step on the K * b images when every operation is per image (LayerNorm,
GroupNorm) and every loss is a mean over the same number of valid pixels
per micro-batch: mmengine divides each micro-batch loss by K, and the mean
of K equal-sized means is the mean of the whole batch. Batch statistics
(BatchNorm in train mode) break it; so does the class balance of
``BalancedBCELoss``, computed per micro-batch (``docs/en/memory.md``).
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from torch import nn

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

SIZE = 32
SWIN = dict(type='SwinTransformer', embed_dims=16, depths=(1, 1, 2, 1),
            num_heads=(1, 2, 2, 4), window_size=4, drop_path_rate=0.0)


def segmentor(head_norm: dict, saliency: bool = False) -> nn.Module:
    """LoRA (no dropout) on a tiny Swin, semseg / normals / depth heads
    (plus saliency with ``BalancedBCELoss``) with ``head_norm``."""
    head = dict(type='MultiScaleFusionHead', in_channels=[16, 32, 64, 128],
                channels=(4, 4, 4, 4),
                expansion=1, norm_cfg=head_norm)
    tasks = dict(
        semseg=dict(head=dict(head, out_channels=4),
                    loss=dict(type='PixelCrossEntropyLoss')),
        normals=dict(head=dict(head, out_channels=3),
                     loss=dict(type='NormalsL1Loss')),
        depth=dict(head=dict(head, out_channels=1),
                   loss=dict(type='DepthL1Loss'), loss_weight=0.5))
    if saliency:
        tasks['saliency'] = dict(head=dict(head, out_channels=1),
                                 loss=dict(type='BalancedBCELoss'))
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                               mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                               size_divisor=32),
        backbone=dict(type='LoRA', module=SWIN, rank=2, dropout=0.0,
                      roles=('qkv', 'fc1')),
        tasks=tasks))
    model.init_weights()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # LoRA B starts at zero: make every path live
        for param in model.backbone.adapters.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    return model.train()


def samples(count: int = 4) -> list:
    """``count`` (image, sample) pairs, every pixel labelled."""
    gen = torch.Generator().manual_seed(3)
    pairs = []
    for i in range(count):
        image = torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8,
                              generator=gen)
        sample = MultiTaskDataSample(metainfo=dict(
            img_path=f'img_{i}.jpg', img_shape=(SIZE, SIZE),
            ori_shape=(SIZE, SIZE)))
        sample.gt_maps = PixelData(
            semseg=torch.randint(0, 4, (1, SIZE, SIZE), generator=gen),
            normals=F.normalize(torch.randn(3, SIZE, SIZE, generator=gen),
                                dim=0),
            depth=torch.rand(1, SIZE, SIZE, generator=gen) + 0.5,
            saliency=(torch.rand(1, SIZE, SIZE, generator=gen)
                      < 0.2 * (i + 1)).to(torch.uint8))
        pairs.append((image, sample))
    return pairs


def batch(pairs: list) -> dict:
    return dict(inputs=[copy.deepcopy(image) for image, _ in pairs],
                data_samples=[copy.deepcopy(sample) for _, sample in pairs])


def wrapper(model: nn.Module, counts: int):
    """The optimizer wrapper a config ``optim_wrapper = dict(type=
    'OptimWrapper', optimizer=..., accumulative_counts=counts)`` builds."""
    return build_optim_wrapper(model, dict(
        type='OptimWrapper', accumulative_counts=counts,
        optimizer=dict(type='SGD', lr=0.5, momentum=0.9)))


def trainable(model: nn.Module) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters()
            if p.requires_grad}


def accumulated_and_full(model: nn.Module, counts: int, steps: int = 1):
    """Parameters after ``steps`` updates accumulated over ``counts``
    micro-batches, and after ``steps`` updates on the whole batches."""
    pairs = samples()
    micro = len(pairs) // counts
    full = copy.deepcopy(model)
    accumulating, whole = wrapper(model, counts), wrapper(full, 1)
    start = trainable(model)
    for _ in range(steps):
        for k in range(counts):
            model.train_step(batch(pairs[k * micro:(k + 1) * micro]),
                             accumulating)
            if k < counts - 1 and _ == 0:
                assert all(torch.equal(p, start[n])
                           for n, p in trainable(model).items())
        full.train_step(batch(pairs), whole)
    return start, trainable(model), trainable(full)


@pytest.mark.parametrize('counts', [2, 4])
def test_accumulated_update_equals_the_large_batch_update(counts):
    start, accumulated, full = accumulated_and_full(
        segmentor(dict(type='GN', num_groups=2)), counts, steps=2)
    moved = max((full[n] - start[n]).abs().max().item() for n in start)
    assert moved > 1e-2
    for name, value in accumulated.items():
        torch.testing.assert_close(value, full[name], rtol=0, atol=1e-6,
                                   msg=name)


def test_frozen_batch_norm_keeps_the_equivalence():
    model = segmentor(dict(type='BN')).eval()  # running statistics
    _, accumulated, full = accumulated_and_full(model, 2)
    for name, value in accumulated.items():
        torch.testing.assert_close(value, full[name], rtol=0, atol=1e-6,
                                   msg=name)


@pytest.mark.parametrize('head_norm, saliency', [
    (dict(type='BN'), False),  # batch statistics of 2 vs 4 images
    (dict(type='GN', num_groups=2), True),  # class balance per micro-batch
])
def test_batch_level_terms_break_the_equivalence(head_norm, saliency):
    _, accumulated, full = accumulated_and_full(
        segmentor(head_norm, saliency), 2)
    gap = max((accumulated[n] - full[n]).abs().max().item() for n in full)
    assert gap > 1e-4
