"""VMT-Adapter and VMT-Adapter-Lite (AAAI 2024), as specified in
``docs/en/methods/vmt_adapter.md``.

In block b, beside the MLP, with u = the MLP input (B, L, d):

    h       = GELU(u D_b + c_b)                      shared down-projection
    KE_bt(h)= gamma_bt * h + beta_bt                  task knowledge extraction
    a_bt    = KE_bt(h) U_b + e_b                      shared up-projection
    shared stream:  MLP(u) + s * mean_t a_bt  = s * (KE_mean(h) U_b + e_b)
    task residual:  s * (a_bt - mean_t a_bt) = s * ((gamma_bt - mean gamma) *
                    h + (beta_bt - mean beta)) U_b      (stage points only)

The shared stream is one adapter pass with the mean gamma/beta (equal by
linearity), so the cost is O(1) in the number of tasks; the task residuals
reuse h and cost one thin (k -> d) projection per task. Lite ties
U_b = D_b^T (separate biases).
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone
from ..mechanism.context import active_context
from ..mechanism.insertion import ChannelsFirst, find_modules
from ..support import get_support

KNOWLEDGE = ('affine', 'dwconv')
TASK_FEATURES = ('last', 'all', None)
StagePoints = Union[Mapping[str, int], Sequence[Tuple[str, int]]]


def match_index(name: str, points: Sequence[Tuple[str, int]]) -> Optional[int]:
    """Output index of the first ``(regex, index)`` whose regex fully
    matches ``name``; ``None`` when none does."""
    for pattern, index in points:
        if re.fullmatch(pattern, name):
            return index
    return None


def infer_channels(module: nn.Module, name: str) -> Tuple[int, bool]:
    """Channel size d of a hooked MLP and whether it works channels-first.

    ``embed_dims`` (mmcv FFN), a Linear's ``in_features`` or the first
    Linear inside the module give channels-last (..., d) inputs; a first
    1x1 ``nn.Conv2d`` (e.g. timm's ConvNeXt ``ConvMlp``) gives (B, d, H, W).
    """
    dims = getattr(module, 'embed_dims', None)
    if isinstance(dims, int):
        return dims, False
    for child in module.modules():
        if isinstance(child, nn.Linear):
            return child.in_features, False
        if isinstance(child, nn.Conv2d) and child.kernel_size == (1, 1):
            return child.in_channels, True
    raise ValueError(f'cannot infer the channel size of target {name!r} '
                     f'({type(module).__name__}): it has no embed_dims, no '
                     'nn.Linear and no 1x1 nn.Conv2d')


class VMTLayer(nn.Module):
    """One VMT adapter (one block): shared D/U, per-task knowledge modules.

    Args:
        channels: d, the MLP's input/output size.
        bottleneck: k (must not exceed d).
        tasks: task names.
        scale: s.
        knowledge: ``'affine'`` (gamma * h + beta) or ``'dwconv'`` (a 3x3
            depthwise conv per task, centre-initialised to ``gamma_init``,
            plus beta; needs a spatial shape).
        tied: Lite: U = D^T with separate biases.
        gamma_init: initial gamma (or dwconv centre tap).
        site: name of the hooked module (for error messages).

    Input: u (..., d) channels-last: tokens (B, L, d) or (B, H, W, d);
    ``dwconv`` on tokens reads their (H, W) from the running context.
    """

    def __init__(self, channels: int, bottleneck: int, tasks: Sequence[str],
                 scale: float = 1.0, knowledge: str = 'affine',
                 tied: bool = False, gamma_init: float = 1.0,
                 site: str = ''):
        super().__init__()
        if bottleneck > channels:
            raise ValueError(f'bottleneck {bottleneck} is larger than the '
                             f'{channels} channels of {site!r}')
        if knowledge not in KNOWLEDGE:
            raise ValueError(f'knowledge {knowledge!r} is not one of '
                             f'{KNOWLEDGE}')
        self.channels, self.bottleneck = channels, bottleneck
        self.tasks = tuple(tasks)
        self.scale, self.knowledge = scale, knowledge
        self.tied, self.gamma_init, self.site = tied, gamma_init, site
        num_tasks = len(self.tasks)
        self.down = nn.Linear(channels, bottleneck)
        if tied:
            self.up_bias = nn.Parameter(torch.zeros(channels))
        else:
            self.up = nn.Linear(bottleneck, channels)
        if knowledge == 'affine':
            self.gamma = nn.Parameter(torch.empty(num_tasks, bottleneck))
        else:
            self.kernel = nn.Parameter(
                torch.empty(num_tasks, bottleneck, 3, 3))
        self.beta = nn.Parameter(torch.empty(num_tasks, bottleneck))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """D: PyTorch's Linear init; U: zeros (VMT); gamma/centre tap:
        ``gamma_init``; beta and biases: zeros."""
        self.down.reset_parameters()
        if self.tied:
            nn.init.zeros_(self.up_bias)
        else:
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)
        if self.knowledge == 'affine':
            nn.init.constant_(self.gamma, self.gamma_init)
        else:
            nn.init.zeros_(self.kernel)
            with torch.no_grad():
                self.kernel[:, :, 1, 1] = self.gamma_init
        nn.init.zeros_(self.beta)

    def _up(self, h: Tensor, bias: bool = True) -> Tensor:
        if self.tied:
            return F.linear(h, self.down.weight.t(),
                            self.up_bias if bias else None)
        return F.linear(h, self.up.weight, self.up.bias if bias else None)

    def _spatial(self, h: Tensor) -> Tuple[Tensor, Tuple[int, ...]]:
        """h (..., k) -> (B, k, H, W) and the shape to restore."""
        if h.dim() == 4:
            return h.permute(0, 3, 1, 2), h.shape
        context = active_context()
        hw_shape = None if context is None else context.hw_shape
        if hw_shape is None:
            raise ValueError(
                f"knowledge='dwconv' at {self.site!r} needs the spatial shape "
                "of its tokens (context.hw_shape, set by the backbone "
                "support's 'probes' capability)")
        b, length, k = h.shape
        height, width = hw_shape
        if height * width != length:
            raise ValueError(f'{self.site!r}: hw_shape {hw_shape} does not '
                             f'match {length} tokens')
        return h.transpose(1, 2).reshape(b, k, height, width), h.shape

    @staticmethod
    def _unspatial(y: Tensor, shape: Tuple[int, ...]) -> Tensor:
        """(B, k', H, W) -> the original channels-last layout."""
        if len(shape) == 4:
            return y.permute(0, 2, 3, 1)
        return y.flatten(2).transpose(1, 2)

    def _knowledge(self, h: Tensor, weight: Tensor, beta: Tensor) -> Tensor:
        """KE with one set of parameters: gamma (k,) or kernel (k, 3, 3)."""
        if self.knowledge == 'affine':
            return h * weight + beta
        x, shape = self._spatial(h)
        y = F.conv2d(x, weight.unsqueeze(1), padding=1, groups=x.shape[1])
        return self._unspatial(y, shape) + beta

    def _weight(self) -> Tensor:
        return self.gamma if self.knowledge == 'affine' else self.kernel

    def hidden(self, u: Tensor) -> Tensor:
        """h = GELU(u D + c): (..., d) -> (..., k)."""
        return F.gelu(self.down(u))

    def forward(self, u: Tensor) -> Tensor:
        """Shared-stream delta s * mean_t a_t (..., d), one adapter pass."""
        h = self.hidden(u)
        ke = self._knowledge(h, self._weight().mean(0), self.beta.mean(0))
        return self.scale * self._up(ke)

    def forward_per_task(self, u: Tensor) -> Dict[str, Tensor]:
        """Reference path: s * a_t for every task, one pass each (..., d)."""
        h = self.hidden(u)
        return {
            task: self.scale * self._up(
                self._knowledge(h, self._weight()[t], self.beta[t]))
            for t, task in enumerate(self.tasks)
        }

    def forward_with_tasks(self,
                           u: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Shared delta and the task residuals s * (a_t - mean_t a_t).

        h is computed once; each task adds one thin KE and a (k -> d)
        projection without bias (the biases cancel in the difference).
        """
        h = self.hidden(u)
        weight, beta = self._weight(), self.beta
        mean_w, mean_b = weight.mean(0), beta.mean(0)
        shared = self.scale * self._up(self._knowledge(h, mean_w, mean_b))
        if self.knowledge == 'affine':
            shape = (-1, ) + (1, ) * (h.dim() - 1) + (self.bottleneck, )
            ke = h.unsqueeze(0) * (weight - mean_w).view(shape) + \
                (beta - mean_b).view(shape)
        else:
            ke = self._task_dwconv(h, weight - mean_w, beta - mean_b)
        residuals = self._task_up(ke)
        return shared, dict(zip(self.tasks, residuals.unbind(0)))

    def _task_up(self, ke: Tensor) -> Tensor:
        """s * ke U without bias: (T, ..., k) -> (T, ..., d).

        For tokens (T, B, L, k) the product is computed channels-first and
        returned as a (T, B, L, d) view, so reshaping it to a stage feature
        (B, d, H, W) needs no copy.
        """
        weight = self.down.weight.t() if self.tied else self.up.weight
        if ke.dim() == 4:
            out = torch.einsum('tblk,dk->tbdl', ke, self.scale * weight)
            return out.transpose(-1, -2)
        return self.scale * F.linear(ke, weight)

    def _task_dwconv(self, h: Tensor, kernels: Tensor,
                     beta: Tensor) -> Tensor:
        """All tasks' depthwise convs as one grouped conv: (T, ..., k)."""
        x, shape = self._spatial(h)
        num_tasks, k = kernels.shape[:2]
        weight = kernels.transpose(0, 1).reshape(k * num_tasks, 1, 3, 3)
        y = F.conv2d(x, weight, padding=1, groups=k)
        b, _, height, width = y.shape
        y = y.view(b, k, num_tasks, height, width).permute(2, 0, 1, 3, 4)
        out = torch.stack([self._unspatial(t, shape) for t in y.unbind(0)])
        view = (num_tasks, ) + (1, ) * (h.dim() - 1) + (k, )
        return out + beta.view(view)

    def extra_repr(self) -> str:
        return (f'd={self.channels}, k={self.bottleneck}, '
                f'tasks={len(self.tasks)}, scale={self.scale}, '
                f'knowledge={self.knowledge}, tied={self.tied}')


@MODELS.register_module()
class VMTAdapter(AdaptedBackbone):
    """VMT-Adapter: a :class:`VMTLayer` parallel to every target MLP.

    Args:
        module: backbone config; any family with backbone support (mmseg
            or timm Swin, timm ViT, timm ConvNeXt), or any backbone with
            explicit ``targets`` and ``stage_points``.
        tasks: task names.
        bottleneck: k (default 30: 0.99 % of mmseg Swin-T with 4 tasks).
        scale: s.
        task_features: ``'last'`` (task residuals from the last block of
            each stage), ``'all'`` (summed over every block of the stage) or
            ``None`` (shared features only, ``list[Tensor]`` output).
        knowledge: ``'affine'`` or ``'dwconv'``.
        targets: regex (full match) of the MLP modules to adapt; None:
            every block's MLP, as the backbone support names it.
        stage_points: ``{regex: out_index}`` (or pairs) of the sites whose
            task residuals feed output ``out_index``; None: the MLP of the
            last (or every) block of each output stage, from the support.
            Must select targets.
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    tied = False
    default_gamma_init = 1.0

    def __init__(self, module: dict, tasks: Sequence[str],
                 bottleneck: int = 30, scale: float = 1.0,
                 task_features: Optional[str] = 'last',
                 knowledge: str = 'affine',
                 targets: Optional[str] = None,
                 stage_points: Optional[StagePoints] = None,
                 trainable: Sequence[str] = (),
                 gamma_init: Optional[float] = None,
                 init_cfg: Optional[dict] = None):
        if task_features not in TASK_FEATURES:
            raise ValueError(f'task_features {task_features!r} is not one of '
                             f'{TASK_FEATURES}')
        self.bottleneck, self.scale = bottleneck, scale
        self.task_features, self.knowledge = task_features, knowledge
        self.targets = targets
        self.stage_points = stage_points
        self.gamma_init = (self.default_gamma_init
                           if gamma_init is None else gamma_init)
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def _target_names(self) -> List[str]:
        """``targets``' matches, or the support's MLP sites."""
        if self.targets is None:
            return [name for _, name in self.backbone_support().mlp_sites()]
        return [name for name, _ in find_modules(self.module, self.targets)]

    def _support_stage_points(self) -> List[Tuple[str, int]]:
        """The MLP sites of the last (``'last'``) or every (``'all'``)
        block of each output stage, as the backbone support names them."""
        if get_support(self.module) is None:
            raise ValueError(
                f'no default stage_points for {type(self.module).__name__} '
                '(no backbone support names its stages): give '
                "stage_points={'<regex over module names>': out_index, ...}")
        support = self.backbone_support()
        site_of = {support.block_of(name): name
                   for _, name in support.mlp_sites()}
        which = 'last' if self.task_features == 'last' else 'all'
        return [(re.escape(site_of[block]), support.out_index(stage))
                for stage, block in support.blocks(which)
                if support.out_index(stage) is not None]

    def _resolve_stage_points(self,
                              names: List[str]) -> List[Tuple[str, int]]:
        if self.task_features is None:
            return []
        if self.stage_points is None:
            points = self._support_stage_points()
        elif isinstance(self.stage_points, Mapping):
            points = list(self.stage_points.items())
        else:
            points = [tuple(p) for p in self.stage_points]
        for pattern, _ in points:
            if not any(re.fullmatch(pattern, name) for name in names):
                raise ValueError(
                    f'stage_points pattern {pattern!r} matches none of the '
                    f'adapted targets ({", ".join(names[:3])}, ...)')
        return points

    def insert_adapters(self) -> None:
        """One layer per target, parallel to it; stage points record."""
        names = self._target_names()
        points = self._resolve_stage_points(names)
        support = get_support(self.module)
        probes = support is not None and 'probes' in support.capabilities
        for name in names:
            channels, channels_first = infer_channels(
                self.module.get_submodule(name), name)
            layer = VMTLayer(
                channels, self.bottleneck, self.tasks,
                scale=self.scale, knowledge=self.knowledge, tied=self.tied,
                gamma_init=self.gamma_init, site=name)
            if channels_first and self.knowledge == 'dwconv':
                raise ValueError(f"knowledge='dwconv' is not supported on "
                                 f'the channels-first target {name!r}')
            adapter = ChannelsFirst(layer) if channels_first else layer
            self.add_adapter(name, adapter, mode='parallel',
                             out_index=match_index(name, points))
        if self.knowledge == 'dwconv' and probes:
            for block in sorted({support.block_of(name) for name in names}):
                self.add_pre_hook(block, support.hw_probe())
        if support is not None and 'regions' in support.capabilities:
            self.add_regions(support.residual_regions(
                sorted(self.sites_per_output())))


@MODELS.register_module()
class VMTAdapterLite(VMTAdapter):
    """VMT-Adapter-Lite: U_b = D_b^T (one matrix per block, two biases).

    U cannot be zero-initialised (it is D^T), so Lite starts as the identity
    through gamma = 0 (and beta = 0): KE(h) = 0, so the adapter outputs its
    zero up-bias. gamma, beta and the up-bias receive gradients at the first
    step, D from the second. Default bottleneck 21: 0.361 % of mmseg Swin-T
    with 4 tasks.
    """

    tied = True
    default_gamma_init = 0.0

    def __init__(self, module: dict, tasks: Sequence[str],
                 bottleneck: int = 21, **kwargs):
        super().__init__(module, tasks, bottleneck=bottleneck, **kwargs)
