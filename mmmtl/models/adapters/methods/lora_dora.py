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
from typing import Dict, List, Optional, Sequence, Tuple, Union

from torch import nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone
from ..mechanism.insertion import find_modules
from ..layers.dora import DoRALinear
from ..layers.lora import LoRALinear

#: mmmtl spec (the Polyhistor benchmark's LoRA baseline): attention qkv only.
DEFAULT_ROLES = ('qkv', )
#: options a target may set for the sites it selects.
TARGET_OPTIONS = ('rank', 'alpha', 'dropout')
Target = Union[str, Dict[str, Union[str, int, float]]]


def parse_targets(targets: Sequence[Target]) -> List[Tuple[str, dict]]:
    """``[(regex, options)]`` from ``targets``: each a regex (full match
    over the wrapped backbone's module names) or, mmpretrain style,
    ``dict(type=regex, rank=..., alpha=..., dropout=...)``.

    Raises:
        ValueError: on an empty list, a target without ``type`` or an
            unknown option (naming the known ones).
    """
    if isinstance(targets, (str, dict)) or not targets:
        raise ValueError(f'targets must be a non-empty list of regexes or '
                         f'dict(type=regex, ...), got {targets!r}')
    parsed = []
    for target in targets:
        if isinstance(target, str):
            target = dict(type=target)
        options = dict(target)
        pattern = options.pop('type', None)
        if not isinstance(pattern, str):
            raise ValueError(f'target {target!r} needs type=<regex over '
                             'module names>')
        unknown = sorted(set(options) - set(TARGET_OPTIONS))
        if unknown:
            raise ValueError(f'target {pattern!r} has unknown option(s) '
                             f'{unknown}; known: {list(TARGET_OPTIONS)}')
        parsed.append((pattern, options))
    return parsed


class LowRankBackbone(AdaptedBackbone):
    """Shared low-rank sites on linear layers chosen by ``targets`` (any
    backbone) or by the backbone support's ``roles`` in every block;
    subclasses build the site (:meth:`build_site`).

    Args:
        module: backbone config (mmseg Swin / ``SwinTransformerMTL``).
        tasks: task names (injected by the segmentor; the sites are shared).
        rank: r.
        alpha: the scale is s = alpha / r.
        dropout: dropout on the low-rank branch's input.
        roles: linear layers adapted in every block (``qkv``, ``proj``,
            ``fc1``, ``fc2``), named by the backbone support; used when
            ``targets`` is None.
        targets: regexes fully matching module names of the wrapped
            backbone (e.g. ``r'model\\.model\\.blocks\\.\\d+\\.attn\\.qkv'``
            on a timm ViT), or ``dict(type=regex, rank=..., alpha=...,
            dropout=...)`` with per-target options; a module matched by
            several targets takes the first one's options. Every target
            must match at least one ``nn.Linear``.
        trainable_groups: backbone parameter groups left trainable (keys of
            the backbone support's ``TRAINABLE``); none by default.
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    def __init__(self, module: dict, tasks: Sequence[str], rank: int = 4,
                 alpha: float = 4.0, dropout: float = 0.0,
                 roles: Sequence[str] = DEFAULT_ROLES,
                 targets: Optional[Sequence[Target]] = None,
                 trainable_groups: Sequence[str] = (),
                 trainable: Sequence[str] = (), init_cfg: dict = None):
        if not roles:
            raise ValueError('roles must name at least one linear role')
        self.rank, self.alpha, self.dropout = rank, alpha, dropout
        self.roles = tuple(roles)
        self.targets = None if targets is None else parse_targets(targets)
        for _, options in [('', {})] + (self.targets or []):
            if options.get('rank', rank) < 1:
                raise ValueError(f'rank must be >= 1, got '
                                 f'{options.get("rank", rank)}')
        self.trainable_groups = tuple(trainable_groups)
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    @property
    def scale(self) -> float:
        """s = alpha / r (of the default options)."""
        return self.alpha / self.rank

    def build_site(self, linear: nn.Linear, rank: int, scale: float,
                   dropout: float) -> nn.Module:
        """The replacement adapter of one frozen ``nn.Linear``."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement build_site()')

    def site_options(self) -> List[Tuple[str, dict]]:
        """``[(module name, options)]`` of every site: the ``targets``'
        matches (first matching target wins) or the support's roles."""
        if self.targets is None:
            support = self.backbone_support()
            return [(name, {})
                    for _, _, name in support.role_sites(self.roles)]
        sites: Dict[str, dict] = {}
        for pattern, options in self.targets:
            for name, _ in find_modules(self.module, pattern):
                sites.setdefault(name, options)
        return list(sites.items())

    def insert_adapters(self) -> None:
        """One site on every selected linear layer."""
        for name, options in self.site_options():
            linear = self.module.get_submodule(name)
            if not isinstance(linear, nn.Linear):
                raise TypeError(f'{type(self).__name__} target {name!r} is '
                                f'a {type(linear).__name__}, not nn.Linear')
            rank = options.get('rank', self.rank)
            alpha = options.get('alpha', self.alpha)
            self.replace(name, self.build_site(
                linear, rank, alpha / rank,
                options.get('dropout', self.dropout)))


@MODELS.register_module()
class LoRA(LowRankBackbone):
    """LoRA: y = W x + b + (alpha / r) B A dropout(x) on every site, one
    set of A, B shared by all tasks (arguments: :class:`LowRankBackbone`).
    """

    def build_site(self, linear: nn.Linear, rank: int, scale: float,
                   dropout: float) -> LoRALinear:
        return LoRALinear(linear.in_features, linear.out_features, rank,
                          scale=scale, dropout=dropout)


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

    def build_site(self, linear: nn.Linear, rank: int, scale: float,
                   dropout: float) -> DoRALinear:
        return DoRALinear(linear, rank, scale=scale, dropout=dropout,
                          detach_norm=self.detach_norm)
