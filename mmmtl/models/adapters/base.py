"""``AdaptedBackbone``: the base of every parameter-efficient method."""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule, initialize
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .freeze import freeze_except, set_frozen_bn_eval
from .insertion import AdapterHook, attach, detach

Features = Union[List[Tensor], Dict[str, List[Tensor]]]


def to_feature_layout(residual: Tensor, feature: Tensor, site: str) -> Tensor:
    """Reshape a recorded residual to a stage feature's (B, C, H, W) layout.

    Accepted residual layouts: tokens (B, L, C) with L = H * W, channels-last
    (B, H, W, C) and channels-first (B, C, H, W).

    Raises:
        ValueError: naming ``site`` when the shapes cannot be reconciled.
    """
    b, c, h, w = feature.shape
    if residual.dim() == 3 and residual.shape == (b, h * w, c):
        return residual.transpose(1, 2).reshape(b, c, h, w)
    if residual.dim() == 4 and residual.shape == (b, h, w, c):
        return residual.permute(0, 3, 1, 2)
    if residual.dim() == 4 and residual.shape == (b, c, h, w):
        return residual
    raise ValueError(
        f'residual recorded at {site!r} has shape {tuple(residual.shape)}, '
        f'which is neither (B, L, C), (B, H, W, C) nor (B, C, H, W) for the '
        f'stage feature {tuple(feature.shape)}; check stage_points')


class AdaptedBackbone(BaseModule):
    """A registered backbone with adapters attached by forward hooks.

    Subclasses implement :meth:`insert_adapters`, which calls
    :meth:`add_adapter` for each insertion site. After insertion the wrapped
    backbone is frozen except the parameters matching ``trainable``; the
    adapters (kept in :attr:`adapters`, outside the backbone's module tree)
    are always trainable.

    Args:
        module: config of any registered backbone (``MODELS.build``).
        tasks: names of the tasks (injected by the multi-task segmentor).
        trainable: regular expressions (``re.search``) over the wrapped
            backbone's parameter names that stay trainable (e.g.
            ``'norm'``, ``'relative_position_bias_table'``). BitFit is a
            subclass with only such patterns and no adapters.
        init_cfg: initialisation of the wrapper itself (e.g. ``Pretrained``
            with a checkpoint of the whole wrapper, adapters included); the
            backbone's own ``init_cfg`` goes inside ``module``.

    Output of :meth:`forward`: the wrapped backbone's ``list[Tensor]`` of
    (B, C_i, H_i, W_i), or, when some adapter records per-task residuals,
    ``dict[task, list[Tensor]]`` where task ``t``'s stage ``i`` is the shared
    stage feature plus the residuals recorded for ``t`` at the sites of
    output index ``i``.
    """

    accepts_tasks = True

    def __init__(self, module: dict, tasks: Sequence[str],
                 trainable: Sequence[str] = (),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.tasks = self._check_tasks(tasks)
        self.module = MODELS.build(module)
        self.adapters = nn.ModuleDict()
        self._sites: List[Tuple[str, AdapterHook, Optional[int]]] = []
        self.insert_adapters()
        self.trainable_patterns = tuple(trainable)
        self.trainable_names = freeze_except(self.module,
                                             self.trainable_patterns)

    @staticmethod
    def _check_tasks(tasks: Sequence[str]) -> Tuple[str, ...]:
        if isinstance(tasks, str) or not tasks:
            raise ValueError(f'tasks must be a non-empty tuple of task names, '
                             f'got {tasks!r}')
        tasks = tuple(tasks)
        if len(set(tasks)) != len(tasks):
            raise ValueError(f'tasks contain duplicates: {tasks}')
        return tasks

    def task_index(self, task: str) -> int:
        """Position of ``task`` in :attr:`tasks` (KeyError names it)."""
        if task not in self.tasks:
            raise KeyError(f'unknown task {task!r}; this backbone was built '
                           f'for {self.tasks}')
        return self.tasks.index(task)

    def insert_adapters(self) -> None:
        """Attach the method's adapters (calls :meth:`add_adapter`)."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement insert_adapters()')

    def add_adapter(self, target: str, adapter: nn.Module,
                    mode: str = 'parallel', out_index: Optional[int] = None,
                    input_key: Optional[str] = None) -> AdapterHook:
        """Attach ``adapter`` to the backbone submodule named ``target``.

        Args:
            target: qualified module name inside the wrapped backbone.
            adapter: the adapter; stored in :attr:`adapters` under
                ``target`` with dots replaced by underscores.
            mode: ``parallel``, ``sequential`` or ``wrap``.
            out_index: when given, the adapter's per-task residuals
                (``forward_with_tasks``) feed output stage ``out_index``.
            input_key: keyword carrying the hooked module's input.

        Returns:
            The registered hook.
        """
        key = target.replace('.', '_')
        if key in self.adapters:
            raise KeyError(f'an adapter is already attached at {target!r} '
                           f'(adapter key {key!r})')
        if out_index is not None and not hasattr(adapter,
                                                 'forward_with_tasks'):
            raise TypeError(f'adapter at {target!r} feeds task features '
                            f'(out_index={out_index}) but '
                            f'{type(adapter).__name__} has no '
                            'forward_with_tasks')
        hook = AdapterHook(adapter, mode=mode, input_key=input_key,
                           record=out_index is not None)
        attach(self.module.get_submodule(target), hook)
        self.adapters[key] = adapter
        self._sites.append((target, hook, out_index))
        return hook

    def remove_adapters(self) -> nn.Module:
        """Detach every hook and return the plain wrapped backbone."""
        for target, hook, _ in self._sites:
            detach(self.module.get_submodule(target), hook)
        self._sites = []
        self.adapters = nn.ModuleDict()
        return self.module

    @property
    def emits_task_features(self) -> bool:
        """Whether :meth:`forward` returns ``dict[task, list[Tensor]]``."""
        return any(index is not None for _, _, index in self._sites)

    def sites_per_output(self) -> Dict[int, List[str]]:
        """``{out_index: [target, ...]}`` of the task-feature sites."""
        sites: Dict[int, List[str]] = {}
        for target, _, index in self._sites:
            if index is not None:
                sites.setdefault(index, []).append(target)
        return sites

    def forward(self, x: Tensor) -> Features:
        """Run the backbone once for all tasks.

        Args:
            x: images (B, 3, H, W).

        Returns:
            ``list[Tensor]`` of (B, C_i, H_i, W_i), or
            ``dict[task, list[Tensor]]`` (see the class docstring).
        """
        recording = [(t, h, i) for t, h, i in self._sites if i is not None]
        for _, hook, _ in recording:
            hook.records = None
        try:
            outs = list(self.module(x))
            if not recording:
                return outs
            feats = {task: list(outs) for task in self.tasks}
            for target, hook, index in recording:
                records = hook.records
                if records is None:
                    raise RuntimeError(
                        f'task-feature site {target!r} was not called during '
                        'the forward pass; check stage_points')
                if index >= len(outs):
                    raise IndexError(
                        f'task-feature site {target!r} feeds output {index} '
                        f'but the backbone returns {len(outs)} stages')
                for task in self.tasks:
                    feats[task][index] = feats[task][index] + \
                        to_feature_layout(records[task], outs[index], target)
            return feats
        finally:
            for _, hook, _ in recording:
                hook.records = None

    def init_weights(self) -> None:
        """Backbone init (e.g. its pretrained checkpoint), then the adapters'
        own init (``reset_parameters``), then the wrapper's ``init_cfg``."""
        if hasattr(self.module, 'init_weights'):
            self.module.init_weights()
        for adapter in self.adapters.values():
            adapter.reset_parameters()
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    def train(self, mode: bool = True) -> 'AdaptedBackbone':
        """Set train mode; batch norms of frozen parts stay in eval mode."""
        super().train(mode)
        if mode:
            set_frozen_bn_eval(self.module)
        return self


def match_index(name: str, points: Sequence[Tuple[str, int]]) -> Optional[int]:
    """Output index of the first ``(regex, index)`` whose regex fully
    matches ``name``; ``None`` when none does."""
    for pattern, index in points:
        if re.fullmatch(pattern, name):
            return index
    return None
