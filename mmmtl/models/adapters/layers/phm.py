"""Parameterised hypercomplex multiplication (PHM) layers (Zhang et al.,
ICLR 2021), Compacter's projections: W = sum_i A_i ⊗ B_i with the "slow"
factors A_i shared by every layer (:class:`PHMRule`) and per-layer B_i,
low rank or full (``docs/en/methods/adapter_compacter.md``).
"""
import math

import torch
from torch import Tensor, nn

from .bottleneck import Projection


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
