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
from typing import Sequence

from mmmtl.registry import MODELS
from ..layers.bottleneck import Projection
from ..layers.phm import PHMProjection, PHMRule
from .bottleneck import BottleneckAdapter

RULE = 'phm_rule'


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
        **kwargs: :class:`~mmmtl.models.adapters.methods.bottleneck.
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
