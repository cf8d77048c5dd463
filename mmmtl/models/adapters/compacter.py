"""Compacter and Compacter++ (Mahabadi et al., NeurIPS 2021), as specified
in ``docs/en/methods/adapter_compacter.md``.

The down and up projections of every bottleneck adapter are
parameterised-hypercomplex-multiplication (PHM) layers::

    W = sum_{i=1..n} A_i ⊗ B_i        W (in, out), y = x W + b

with A_i (n, n) one set of "slow" Kronecker factors shared by every PHM
layer of the model (stored once, ``shared['phm_rule']``) and B_i
(in / n, out / n) per layer, low rank: B_i = s_i t_i^T with s_i
(in / n, r), t_i (r, out / n) (r = 1 in the paper), or full with
``low_rank_phm=False`` (the PHM-Adapter). Compacter places the adapters
after the attention and the MLP (Houlsby), Compacter++ after the MLP only.
"""
import math
from typing import Sequence

import torch
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .bottleneck import BottleneckAdapter, Projection

RULE = 'phm_rule'


def kronecker_sum(rule: Tensor, factors: Tensor) -> Tensor:
    """sum_i A_i ⊗ B_i for A (n, n, n) and B (n, p, q): (n p, n q)."""
    n, p, q = factors.shape
    return torch.einsum('iab,iuv->aubv', rule, factors).reshape(n * p, n * q)


class PHMRule(nn.Module):
    """The shared Kronecker factors A (n, n, n), A_i ~ N(0, 1 / n) (so a
    PHM matrix has the variance of its B factors).

    Args:
        n: the PHM dimension.
    """

    def __init__(self, n: int):
        super().__init__()
        if n < 1:
            raise ValueError(f'the PHM dimension must be >= 1, got {n}')
        self.n = n
        self.weight = nn.Parameter(torch.empty(n, n, n))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=1 / math.sqrt(self.n))

    def forward(self) -> Tensor:
        """A (n, n, n)."""
        return self.weight

    def extra_repr(self) -> str:
        return f'n={self.n}'


class PHMProjection(Projection):
    """A PHM layer (..., in) -> (..., out) with a shared :class:`PHMRule`.

    The rule is only referenced (it lives on the wrapper's ``shared``), so
    its parameter is stored and counted once and every layer's gradient
    accumulates into it.

    Random B factors make W's variance 1 / (3 in) (PyTorch's Linear init):
    low rank, s ~ N(0, 1) (zero with ``zero_init``) and t ~ N(0, 1 / (3 in
    r)); full, B ~ N(0, 1 / (3 in)) (zero with ``zero_init``).

    Args:
        in_features: in (a multiple of n).
        out_features: out (a multiple of n).
        rule: the shared Kronecker factors.
        rank: r of B_i = s_i t_i^T.
        low_rank: factorise B_i (Compacter) or not (PHM-Adapter).
        zero_init: start at W = 0.
    """

    def __init__(self, in_features: int, out_features: int, rule: PHMRule,
                 rank: int = 1, low_rank: bool = True,
                 zero_init: bool = False):
        super().__init__(in_features, out_features, zero_init)
        n = rule.n
        if in_features % n or out_features % n:
            raise ValueError(f'a PHM layer {in_features}->{out_features} '
                             f'needs both sizes divisible by n = {n}')
        if rank < 1:
            raise ValueError(f'rank must be >= 1, got {rank}')
        self.__dict__['rule'] = rule
        self.rank, self.low_rank = rank, low_rank
        p, q = in_features // n, out_features // n
        if low_rank:
            self.s = nn.Parameter(torch.empty(n, p, rank))
            self.t = nn.Parameter(torch.empty(n, rank, q))
        else:
            self.factors = nn.Parameter(torch.empty(n, p, q))
        self.reset_parameters()

    def phm_factors(self) -> Tensor:
        """B (n, in / n, out / n)."""
        return self.s @ self.t if self.low_rank else self.factors

    def matrix(self) -> Tensor:
        """W^T (out, in) with W = sum_i A_i ⊗ B_i (in, out)."""
        return kronecker_sum(self.rule(), self.phm_factors()).t()

    def reset_factors(self) -> None:
        if not self.low_rank:
            if self.zero_init:
                nn.init.zeros_(self.factors)
            else:
                nn.init.normal_(self.factors,
                                std=1 / math.sqrt(3 * self.in_features))
            return
        if self.zero_init:
            nn.init.zeros_(self.s)
        else:
            nn.init.normal_(self.s)
        nn.init.normal_(self.t,
                        std=1 / math.sqrt(3 * self.in_features * self.rank))

    def extra_repr(self) -> str:
        kind = f'low rank {self.rank}' if self.low_rank else 'full'
        return f'{super().extra_repr()}, n={self.rule.n}, B {kind}'


@MODELS.register_module()
class Compacter(BottleneckAdapter):
    """Compacter: Houlsby-placed adapters of PHM layers with shared A_i.

    Args:
        module: backbone config (mmseg Swin / ``SwinTransformerMTL``).
        tasks: task names.
        phm_dim: n; it must divide every block width.
        phm_rank: r of the per-layer factors B_i.
        low_rank_phm: B_i = s_i t_i^T (Compacter) or full (PHM-Adapter).
        reduction: k = d // reduction, rounded down to a multiple of n and
            at least n. Default 24 (k = 4, 8, 16, 32 on Swin-T); the paper's
            32 would give 3 channels at width 96, which n = 4 does not
            divide.
        **kwargs: :class:`~mmmtl.models.adapters.bottleneck.
            BottleneckAdapter` arguments (placement, act, scale,
            trainable_groups, trainable, init_cfg); LayerNorms are trained
            by default, as in the paper.
    """

    def __init__(self, module: dict, tasks: Sequence[str], phm_dim: int = 4,
                 phm_rank: int = 1, low_rank_phm: bool = True,
                 reduction: int = 24, **kwargs):
        self.phm_dim, self.phm_rank = phm_dim, phm_rank
        self.low_rank_phm = low_rank_phm
        super().__init__(module, tasks, reduction=reduction, **kwargs)

    def insert_adapters(self) -> None:
        """The shared rule, then one PHM adapter per site."""
        self.add_shared(RULE, PHMRule(self.phm_dim))
        super().insert_adapters()

    def bottleneck(self, channels: int, site: str) -> int:
        n = self.phm_dim
        if channels % n:
            raise ValueError(f'Compacter: the width {channels} at {site!r} '
                             f'is not divisible by phm_dim = {n}')
        return max(n, channels // self.reduction // n * n)

    def projection(self, in_features: int, out_features: int,
                   zero_init: bool) -> Projection:
        return PHMProjection(in_features, out_features, self.shared[RULE],
                             rank=self.phm_rank,
                             low_rank=self.low_rank_phm, zero_init=zero_init)


@MODELS.register_module()
class CompacterPlusPlus(Compacter):
    """Compacter++: Compacter's adapters after the MLP only."""

    def __init__(self, module: dict, tasks: Sequence[str],
                 placement: str = 'ffn', **kwargs):
        super().__init__(module, tasks, placement=placement, **kwargs)
