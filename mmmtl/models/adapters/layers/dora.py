"""Weight-decomposed low-rank adaptation (DoRA, Liu et al., ICML 2024) of a
frozen ``nn.Linear``, as a replacement site.

With W0 (d_out, d_in) the frozen weight, A (r, d_in), B (d_out, r) and the
LoRA scale s::

    V  = W0 + s B A                               direction (d_out, d_in)
    n  = ||V||_c                                  (d_out,): the norm of each
                                                  output unit's row, over d_in
    W' = (m / n) ⊙ V                              m (d_out,) trainable
    y  = W' x + b  = (m / n) ⊙ (W0 x + s B A dropout(x)) + b

m starts at ||W0||_c and B at zero, so the site starts as the frozen layer.
As the paper proposes to save training memory, n is treated as a constant
in backprop (``detach_norm=True``; its value still follows A and B). The
dropout, as in LoRA, applies to the low-rank branch's input only.
:meth:`DoRALinear.merge_into` folds W' into the layer for deployment.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .lora import init_low_rank_, low_rank


def row_norms(weight: Tensor) -> Tensor:
    """||W||_c of a (d_out, d_in) weight: the L2 norm of every output row,
    (d_out,)."""
    return torch.linalg.vector_norm(weight, dim=1)


class DoRALinear(nn.Module):
    """DoRA for one ``nn.Linear`` site.

    The site keeps a reference (not a submodule: it stays in the backbone
    and is counted there) to the layer it adapts, so that
    :meth:`reset_parameters` sets m from that layer's current weight, e.g.
    after the backbone's checkpoint has been loaded.

    Args:
        base: the frozen ``nn.Linear`` it adapts.
        rank: r.
        scale: s, multiplied directly (a method passes alpha / r).
        dropout: dropout on the low-rank branch's input.
        detach_norm: treat n = ||W0 + s B A||_c as a constant in backprop
            (the paper's choice); False differentiates through it.
    """

    def __init__(self, base: nn.Linear, rank: int, scale: float = 1.0,
                 dropout: float = 0.0, detach_norm: bool = True):
        super().__init__()
        if rank < 1:
            raise ValueError(f'DoRA rank must be >= 1, got {rank}')
        if not isinstance(base, nn.Linear):
            raise TypeError(f'DoRA adapts an nn.Linear, got '
                            f'{type(base).__name__}')
        self.__dict__['frozen_layer'] = base
        self.in_features, self.out_features = base.in_features, \
            base.out_features
        self.rank, self.scale = rank, scale
        self.detach_norm = detach_norm
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.lora_a = nn.Parameter(torch.empty(rank, self.in_features))
        self.lora_b = nn.Parameter(torch.empty(self.out_features, rank))
        self.magnitude = nn.Parameter(torch.empty(self.out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """A kaiming-uniform, B zeros, m = ||W0||_c of the adapted layer's
        current weight."""
        init_low_rank_(self.lora_a, self.lora_b)
        with torch.no_grad():
            self.magnitude.copy_(row_norms(self.frozen_layer.weight))

    def direction(self, weight: Tensor) -> Tensor:
        """V = W0 + s B A, (d_out, d_in)."""
        return weight + self.scale * self.lora_b @ self.lora_a

    def row_scale(self, weight: Tensor) -> Tensor:
        """m / ||W0 + s B A||_c, (d_out,) (the norm detached when
        ``detach_norm``)."""
        norm = row_norms(self.direction(weight))
        if self.detach_norm:
            norm = norm.detach()
        return self.magnitude / norm

    def forward_site(self, base: nn.Linear, x: Tensor) -> Tensor:
        """x: (..., d_in) -> (..., d_out)."""
        frozen = F.linear(x, base.weight)
        update = low_rank(self.dropout(x), self.lora_a,
                          self.scale * self.lora_b)
        out = (frozen + update) * self.row_scale(base.weight)
        return out if base.bias is None else out + base.bias

    def merged_weight(self, base: nn.Linear) -> Tensor:
        """W' = (m / ||V||_c) ⊙ V, (d_out, d_in)."""
        return self.row_scale(base.weight)[:, None] * self.direction(
            base.weight)

    def merge_into(self, base: nn.Linear) -> None:
        """Replace ``base``'s weight by W' (in place; bias unchanged)."""
        shape = (self.out_features, self.in_features)
        if tuple(base.weight.shape) != shape:
            raise ValueError(f'cannot merge a {shape} DoRA into a weight of '
                             f'shape {tuple(base.weight.shape)}')
        with torch.no_grad():
            base.weight.copy_(self.merged_weight(base))

    def extra_repr(self) -> str:
        return (f'{self.in_features}->{self.out_features}, r={self.rank}, '
                f'scale={self.scale}, detach_norm={self.detach_norm}')
