"""Bottleneck projections and the bottleneck adapter layer,
a(h) = s * up(act(down(h))), used by the bottleneck adapters, the low-rank
adapter and Compacter (``docs/en/methods/adapter_compacter.md``).

:class:`Projection` is a linear map whose weight matrix a subclass
parameterises: a full matrix (:class:`DenseProjection`), a rank-r product
(:class:`LowRankProjection`) or a PHM layer
(:class:`~mmmtl.models.adapters.layers.phm.PHMProjection`).
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS = {'gelu': nn.GELU, 'relu': nn.ReLU, 'swish': nn.SiLU}


class Projection(nn.Module):
    """A linear map (..., in) -> (..., out), y = x W^T + b, whose weight
    matrix W (out, in) is parameterised by a subclass.

    Random matrices start with the variance of PyTorch's default Linear
    init, 1 / (3 in); ``zero_init`` ones start at W = 0 (the factor that
    multiplies the output is zero, so every factor still gets gradients
    once the network moves). The bias starts at zero.

    Args:
        in_features: in.
        out_features: out.
        zero_init: start at W = 0.
    """

    def __init__(self, in_features: int, out_features: int,
                 zero_init: bool = False):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.zero_init = zero_init
        self.bias = nn.Parameter(torch.zeros(out_features))

    def matrix(self) -> Tensor:
        """The weight W (out, in)."""
        raise NotImplementedError

    def reset_factors(self) -> None:
        """Initialise the parameters of W."""
        raise NotImplementedError

    def reset_parameters(self) -> None:
        self.reset_factors()
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.matrix(), self.bias)

    def extra_repr(self) -> str:
        return (f'{self.in_features}->{self.out_features}, '
                f'zero_init={self.zero_init}')


class DenseProjection(Projection):
    """W a full (out, in) matrix: kaiming-uniform (a = sqrt(5)), or zero."""

    def __init__(self, in_features: int, out_features: int,
                 zero_init: bool = False):
        super().__init__(in_features, out_features, zero_init)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def matrix(self) -> Tensor:
        return self.weight

    def reset_factors(self) -> None:
        if self.zero_init:
            nn.init.zeros_(self.weight)
        else:
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))


class LowRankProjection(Projection):
    """W = L R with L (out, r), R (r, in) (Compacter's low-rank adapter).

    L ~ N(0, 1) (zero with ``zero_init``), R ~ N(0, 1 / (3 in r)).
    """

    def __init__(self, in_features: int, out_features: int, rank: int = 1,
                 zero_init: bool = False):
        super().__init__(in_features, out_features, zero_init)
        if rank < 1:
            raise ValueError(f'rank must be >= 1, got {rank}')
        self.rank = rank
        self.left = nn.Parameter(torch.empty(out_features, rank))
        self.right = nn.Parameter(torch.empty(rank, in_features))
        self.reset_parameters()

    def matrix(self) -> Tensor:
        return self.left @ self.right

    def reset_factors(self) -> None:
        if self.zero_init:
            nn.init.zeros_(self.left)
        else:
            nn.init.normal_(self.left)
        nn.init.normal_(self.right,
                        std=1 / math.sqrt(3 * self.in_features * self.rank))

    def forward(self, x: Tensor) -> Tensor:
        """Two thin products, never W itself: (..., in) -> (..., out)."""
        return F.linear(F.linear(x, self.right), self.left, self.bias)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, rank={self.rank}'


class BottleneckLayer(nn.Module):
    """One adapter: a(h) = s * up(act(down(h))) on channels-last inputs.

    Args:
        down: projection d -> k.
        up: projection k -> d (zero-initialised).
        act: key of :data:`ACTIVATIONS`.
        scale: s.
        residual: return h + a(h) (a ``sequential`` hook site) instead of
            a(h) (a ``parallel`` one).

    Input: h (..., d), tokens (B, L, d) or windows (B * nW, N, d).
    """

    def __init__(self, down: Projection, up: Projection, act: str = 'gelu',
                 scale: float = 1.0, residual: bool = True):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f'activation {act!r} is not one of '
                             f'{sorted(ACTIVATIONS)}')
        self.down, self.up = down, up
        self.act = ACTIVATIONS[act]()
        self.scale, self.residual = scale, residual

    def reset_parameters(self) -> None:
        self.down.reset_parameters()
        self.up.reset_parameters()

    def delta(self, h: Tensor) -> Tensor:
        """a(h), (..., d)."""
        return self.scale * self.up(self.act(self.down(h)))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.delta(h) if self.residual else self.delta(h)

    def extra_repr(self) -> str:
        return f'scale={self.scale}, residual={self.residual}'
