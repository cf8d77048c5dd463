"""A tiny two-task MultiTaskSegmentor around any method wrapping the tiny
Swin, a learnable batch and a few optimizer steps (the short training runs
of the PEFT baseline tests)."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor, nn

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from toy_backbones import images, tiny_swin

DIMS = [24, 48, 96, 192]


def segmentor(kind: str, **kwargs) -> nn.Module:
    """semseg (5 classes) and normals heads on backbone ``kind``."""
    torch.manual_seed(0)
    head = dict(type='MultiScaleFusionHead', in_channels=DIMS,
                channels=(4, 4, 4, 4))
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        backbone=dict(type=kind, module=tiny_swin(), **kwargs),
        tasks=dict(
            semseg=dict(head=dict(head, out_channels=5),
                        loss=dict(type='PixelCrossEntropyLoss')),
            normals=dict(head=dict(head, out_channels=3),
                         loss=dict(type='NormalsL1Loss')))))
    model.init_weights()
    return model


def batch(size: int = 32) -> Tuple[Tensor, List[MultiTaskDataSample]]:
    """Images (2, 3, size, size) and labels that are a smooth function of
    them (classes from the blurred first channel, normals from the blurred
    image), so that a few steps can fit them."""
    x = images(size=size)
    smooth = F.interpolate(F.avg_pool2d(x, 8), size=size, mode='bilinear')
    labels = torch.bucketize(smooth[:, :1],
                             torch.tensor([-0.3, -0.1, 0.1, 0.3]))
    normals = F.normalize(smooth, dim=1)
    samples = []
    for label, normal in zip(labels, normals):
        sample = MultiTaskDataSample()
        sample.gt_maps = PixelData(semseg=label, normals=normal)
        sample.set_metainfo(dict(img_shape=(size, size),
                                 ori_shape=(size, size),
                                 pad_shape=(size, size),
                                 batch_input_shape=(size, size)))
        samples.append(sample)
    return x, samples


def train(model: nn.Module, steps: int = 4,
          lr: float = 1e-2) -> Tuple[float, float]:
    """Adam on the trainable parameters over :func:`batch`; returns the
    first and the last total loss."""
    x, samples = batch()
    optim = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        optim.zero_grad()
        loss = sum(model(x, samples, mode='loss').values())
        loss.backward()
        optim.step()
        losses.append(loss.item())
    return losses[0], losses[-1]
