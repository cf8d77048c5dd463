"""Plain LoRA (Hu et al., ICLR 2022) and DoRA (Liu et al., ICML 2024) on a
frozen backbone, shared by every task; equations in
``docs/en/methods/lora_dora.md``.

Every linear layer of the chosen roles (Swin: ``qkv``, ``proj``, ``fc1``,
``fc2``) of every block becomes a replacement site with scale
s = alpha / r:

* ``LoRA``: y = W x + b + s B A dropout(x)
  (:class:`~mmmtl.models.adapters.layers.lora.LoRALinear`);
* ``DoRA``: y = (m / ||W + s B A||_c) ⊙ (W x + s B A dropout(x)) + b
  (:class:`~mmmtl.models.adapters.layers.dora.DoRALinear`).

The backbone runs once for all tasks and returns its usual list of stage
features, which every task's decoder reads. Both fold into the plain
backbone for deployment: ``model.backbone.merge_adapters()``.
"""
from typing import Sequence

from torch import nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone
from ..layers.dora import DoRALinear
from ..layers.lora import LoRALinear
from ..support import require_support

#: mmmtl spec (the Polyhistor benchmark's LoRA baseline): attention qkv only.
DEFAULT_ROLES = ('qkv', )


class LowRankBackbone(AdaptedBackbone):
    """Shared low-rank sites on the linear layers of ``roles`` in every
    block; subclasses build the site (:meth:`build_site`).

    Args:
        module: backbone config (mmseg Swin / ``SwinTransformerMTL``).
        tasks: task names (injected by the segmentor; the sites are shared).
        rank: r.
        alpha: the scale is s = alpha / r.
        dropout: dropout on the low-rank branch's input.
        roles: linear layers adapted in every block (``qkv``, ``proj``,
            ``fc1``, ``fc2``).
        trainable_groups: backbone parameter groups left trainable (keys of
            the backbone support's ``TRAINABLE``); none by default.
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    def __init__(self, module: dict, tasks: Sequence[str], rank: int = 4,
                 alpha: float = 4.0, dropout: float = 0.0,
                 roles: Sequence[str] = DEFAULT_ROLES,
                 trainable_groups: Sequence[str] = (),
                 trainable: Sequence[str] = (), init_cfg: dict = None):
        if rank < 1:
            raise ValueError(f'rank must be >= 1, got {rank}')
        if not roles:
            raise ValueError('roles must name at least one linear role')
        self.rank, self.alpha, self.dropout = rank, alpha, dropout
        self.roles = tuple(roles)
        self.trainable_groups = tuple(trainable_groups)
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    @property
    def scale(self) -> float:
        """s = alpha / r."""
        return self.alpha / self.rank

    def build_site(self, linear: nn.Linear) -> nn.Module:
        """The replacement adapter of one frozen ``nn.Linear``."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement build_site()')

    def insert_adapters(self) -> None:
        """One site on every linear layer of :attr:`roles`."""
        support = require_support(self.module, type(self).__name__)
        for _, _, name in support.role_sites(self.roles):
            linear = self.module.get_submodule(name)
            if not isinstance(linear, nn.Linear):
                raise TypeError(f'{type(self).__name__} target {name!r} is '
                                f'a {type(linear).__name__}, not nn.Linear')
            self.replace(name, self.build_site(linear))


@MODELS.register_module()
class LoRA(LowRankBackbone):
    """LoRA: y = W x + b + (alpha / r) B A dropout(x) on every site, one
    set of A, B shared by all tasks (arguments: :class:`LowRankBackbone`).
    """

    def build_site(self, linear: nn.Linear) -> LoRALinear:
        return LoRALinear(linear.in_features, linear.out_features,
                          self.rank, scale=self.scale, dropout=self.dropout)


@MODELS.register_module()
class DoRA(LowRankBackbone):
    """DoRA: W' = m ⊙ (W + s B A) / ||W + s B A||_c on every site, shared by
    all tasks.

    Args:
        detach_norm: treat the row norm as a constant in backprop (the
            paper's choice, default).
        **kwargs: :class:`LowRankBackbone`'s arguments.
    """

    def __init__(self, module: dict, tasks: Sequence[str],
                 detach_norm: bool = True, **kwargs):
        self.detach_norm = detach_norm
        super().__init__(module, tasks, **kwargs)

    def build_site(self, linear: nn.Linear) -> DoRALinear:
        return DoRALinear(linear, self.rank, scale=self.scale,
                          dropout=self.dropout,
                          detach_norm=self.detach_norm)
