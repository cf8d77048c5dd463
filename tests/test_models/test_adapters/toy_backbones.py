"""Toy backbones (plain nn.Modules) used to test the adapter mechanism."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS


class ToyStage(nn.Module):
    """A residual MLP over tokens (B, L, C) or channels-last (B, H, W, C)."""

    def __init__(self, dims: int, layout: str):
        super().__init__()
        self.layout = layout
        self.mlp = nn.Sequential(
            nn.Linear(dims, 2 * dims), nn.GELU(), nn.Linear(2 * dims, dims))
        self.bn = nn.BatchNorm2d(dims)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        x = self.bn(x)
        if self.layout == 'tokens':
            t = x.flatten(2).transpose(1, 2)
            t = t + self.mlp(t)
            return t.transpose(1, 2).reshape(b, c, h, w)
        t = x.permute(0, 2, 3, 1)
        t = t + self.mlp(t)
        return t.permute(0, 3, 1, 2)


@MODELS.register_module(force=True)
class ToyAdapterBackbone(nn.Module):
    """Patchify, then stages of a residual MLP; returns every stage (NCHW)."""

    def __init__(self, dims: Sequence[int] = (8, 16),
                 layout: str = 'tokens'):
        super().__init__()
        self.embed = nn.Conv2d(3, dims[0], 4, 4)
        self.stages = nn.ModuleList(ToyStage(d, layout) for d in dims)
        self.downs = nn.ModuleList(
            nn.Conv2d(a, b, 2, 2) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor) -> List[Tensor]:
        x = self.embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            outs.append(x)
            if i < len(self.downs):
                x = self.downs[i](x)
        return outs


def tiny_swin(**kwargs) -> dict:
    """Config of a tiny mmseg Swin (embed 24, depths 2-2-2-2, window 4)."""
    cfg = dict(type='SwinTransformer', embed_dims=24, depths=(2, 2, 2, 2),
               num_heads=(1, 2, 2, 4), window_size=4, drop_path_rate=0.0)
    cfg.update(kwargs)
    return cfg


def images(batch: int = 2, size: int = 32, seed: int = 0) -> Tensor:
    """Deterministic random images (B, 3, size, size)."""
    return torch.randn(batch, 3, size, size,
                       generator=torch.Generator().manual_seed(seed))


def assert_training_lowers_every_task_loss(model: nn.Module, lr: float,
                                           steps: int = 15) -> None:
    """Adam on the trainable parameters towards a per-task, per-channel
    shifted copy of the initial features lowers every task's MSE by 10 %."""
    x = images()
    with torch.no_grad():
        start = model(x)
    gen = torch.Generator().manual_seed(2)
    targets = {t: [f + torch.randn(1, f.shape[1], 1, 1, generator=gen)
                   for f in feats] for t, feats in start.items()}

    def losses():
        feats = model(x)
        return {t: sum(F.mse_loss(f, g) for f, g in
                       zip(feats[t], targets[t])) for t in targets}

    optim = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=lr)
    first = {t: v.item() for t, v in losses().items()}
    for _ in range(steps):
        optim.zero_grad()
        sum(losses().values()).backward()
        optim.step()
    last = {t: v.item() for t, v in losses().items()}
    for task in targets:
        assert last[task] < 0.9 * first[task], (task, first, last)
