"""Bottleneck adapters shared by all tasks (one backbone pass), as specified
in ``docs/en/methods/adapter_compacter.md``.

In every block of width d, an adapter with bottleneck k = d // reduction::

    a(h) = s * up(act(down(h)))          down: d -> k, up: k -> d

is placed (``placement``)

* ``'houlsby'`` (Houlsby et al., ICML 2019): sequentially after the
  attention output and after the MLP output, h <- h + a(h), both before
  the block's drop path and residual addition;
* ``'ffn'`` (Pfeiffer et al. 2021, Compacter++): sequentially after the MLP
  only;
* ``'parallel'`` (He et al., ICLR 2022): beside the MLP, with the MLP's
  input u: MLP(u) + a(u).

The up projection starts at zero, so the adapted backbone starts as the
frozen one. :class:`LowRankAdapter` (Mahabadi et al., NeurIPS 2021) makes
down and up rank-r products; :mod:`~mmmtl.models.adapters.layers.phm` makes
them PHM layers.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from mmmtl.registry import MODELS
from ..layers.bottleneck import (BottleneckLayer, DenseProjection,
                                 LowRankProjection, Projection)
from ..mechanism.base import AdaptedBackbone
from ..mechanism.insertion import ChannelsFirst

# Sites of each placement: (block part, hook mode).
PLACEMENTS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    'houlsby': (('attn', 'sequential'), ('ffn', 'sequential')),
    'ffn': (('ffn', 'sequential'), ),
    'parallel': (('ffn', 'parallel'), ),
}
# Backbone-support method naming each part's module: the window attention
# (its output windows, before the window reverse and drop path; the adapter
# is token-wise, so it commutes with the reverse, the cyclic shift and the
# crop) and the MLP layers (before the FFN's drop path).
PARTS = {'attn': 'attention', 'ffn': 'mlp'}
# Defaults of each placement (Houlsby et al.; He et al.'s scaled parallel
# adapter; Compacter++ placement): reduction, activation, scale and the
# backbone parameter groups left trainable.
PLACEMENT_DEFAULTS = {
    'houlsby': dict(reduction=16, act='gelu', scale=1.0,
                    trainable_groups=('norms', )),
    'ffn': dict(reduction=16, act='gelu', scale=1.0,
                trainable_groups=('norms', )),
    'parallel': dict(reduction=2, act='relu', scale=4.0,
                     trainable_groups=()),
}


@MODELS.register_module()
class BottleneckAdapter(AdaptedBackbone):
    """Bottleneck adapters in every block, shared by all tasks.

    Args:
        module: backbone config (mmseg Swin / ``SwinTransformerMTL``).
        tasks: task names.
        placement: ``'houlsby'``, ``'ffn'`` or ``'parallel'`` (module
            docstring).
        reduction: k = d // reduction (at least 1) in a block of width d.
        act: ``'gelu'``, ``'relu'`` or ``'swish'``.
        scale: s.
        trainable_groups: backbone parameter groups left trainable (keys of
            the backbone support's ``TRAINABLE``; ``('norms',)``: every
            LayerNorm, as Houlsby et al. and Compacter train them).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.

    ``None`` takes the placement's default from
    :data:`PLACEMENT_DEFAULTS`: Houlsby / ffn reduction 16, GELU, s = 1,
    norms trainable; parallel reduction 2, ReLU, s = 4, nothing else
    trainable (He et al.'s scaled parallel adapter).
    """

    def __init__(self, module: dict, tasks: Sequence[str],
                 placement: str = 'houlsby',
                 reduction: Optional[int] = None, act: Optional[str] = None,
                 scale: Optional[float] = None,
                 trainable_groups: Optional[Sequence[str]] = None,
                 trainable: Sequence[str] = (),
                 init_cfg: Optional[dict] = None):
        if placement not in PLACEMENTS:
            raise ValueError(f'placement {placement!r} is not one of '
                             f'{sorted(PLACEMENTS)}')
        defaults = PLACEMENT_DEFAULTS[placement]
        self.placement = placement
        self.reduction = defaults['reduction'] if reduction is None \
            else reduction
        self.act = defaults['act'] if act is None else act
        self.scale = defaults['scale'] if scale is None else scale
        self.trainable_groups = tuple(
            defaults['trainable_groups'] if trainable_groups is None else
            trainable_groups)
        if self.reduction < 1:
            raise ValueError(f'reduction must be >= 1, got {reduction}')
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def site_modes(self, support, block: str) -> List[Tuple[str, str]]:
        """``[(module name, hook mode)]`` of ``block``'s adapters."""
        return [(getattr(support, PARTS[part])(block), mode)
                for part, mode in PLACEMENTS[self.placement]]

    def bottleneck(self, channels: int, site: str) -> int:
        """k of the adapter at ``site`` in a block of ``channels``."""
        return max(1, channels // self.reduction)

    def projection(self, in_features: int, out_features: int,
                   zero_init: bool) -> Projection:
        """The down (``zero_init=False``) or up projection."""
        return DenseProjection(in_features, out_features, zero_init)

    def insert_adapters(self) -> None:
        """One adapter per site of every block."""
        support = self.backbone_support()
        for stage, block in support.blocks():
            channels = support.channels(stage)
            for site, mode in self.site_modes(support, block):
                hidden = self.bottleneck(channels, site)
                layer = BottleneckLayer(
                    self.projection(channels, hidden, False),
                    self.projection(hidden, channels, True), act=self.act,
                    scale=self.scale, residual=mode == 'sequential')
                if support.channels_first(site):
                    layer = ChannelsFirst(layer)
                self.add_adapter(site, layer, mode=mode)


@MODELS.register_module()
class LowRankAdapter(BottleneckAdapter):
    """Houlsby-placed adapters whose down and up projections are rank-r
    products W = L R (Mahabadi et al., NeurIPS 2021, "low-rank adapter").

    Args:
        rank: r (1 in the Compacter paper).
        reduction: k = d // reduction (24: the Compacter configs' k, see
            :class:`~mmmtl.models.adapters.methods.compacter.Compacter`).
        **kwargs: :class:`BottleneckAdapter` arguments.
    """

    def __init__(self, module: dict, tasks: Sequence[str], rank: int = 1,
                 reduction: int = 24, **kwargs):
        self.rank = rank
        super().__init__(module, tasks, reduction=reduction, **kwargs)

    def projection(self, in_features: int, out_features: int,
                   zero_init: bool) -> Projection:
        return LowRankProjection(in_features, out_features, self.rank,
                                 zero_init)
