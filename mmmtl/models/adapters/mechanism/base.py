"""``AdaptedBackbone``: the base of every parameter-efficient method."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule, initialize
from torch import Tensor, nn

from mmmtl.registry import MODELS
from . import checkpointing
from .context import SHARED, TaskContext, activate
from .freeze import freeze_except, set_frozen_bn_eval
from .insertion import AdapterHook, attach, detach
from .regions import (CollapseStreams, ExpandStreams, RegionEntry,
                      RegionExit, SplitFn, StackFn)
from .replace import replace_module, restore_module
from ..support import Region, get_support, require_support

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
    """A registered backbone with adapters attached at build time.

    Subclasses implement :meth:`insert_adapters`, which uses the insertion
    forms (all documented in ``docs/en/adapters.md``):

    * :meth:`add_adapter`: a forward hook on a module (``parallel``,
      ``sequential``, ``wrap``), optionally recording per-task residuals for
      an output (a stage point);
    * :meth:`replace`: the module becomes an adapter site that owns the
      original (state-dict keys unchanged);
    * :meth:`add_region`: a part of the backbone run once per task, batched
      along the batch axis, and :meth:`add_shared_segment`: a module inside
      a region computed once while every stream holds the same input;
    * :meth:`add_shared`: a module shared by many sites, stored once;
    * :meth:`add_pre_hook` / :meth:`add_hook`: plain forward (pre-)hooks
      that read or update the per-forward :class:`TaskContext` (e.g. tokens
      carried from block to block).

    After insertion the wrapped backbone is frozen except the parameters
    matching ``trainable``; adapters and shared modules (kept on the
    wrapper, outside the backbone's module tree) are always trainable.

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
    (B, C_i, H_i, W_i), or, when the method produces task features,
    ``dict[task, list[Tensor]]``: task ``t``'s output ``i`` is the feature
    recorded for ``t`` at the exit of the region of output ``i`` if there
    is one, else the shared output plus the residuals recorded for ``t`` at
    the stage points of output ``i``.
    """

    accepts_tasks = True
    #: backbone-support capabilities the method needs (see
    #: ``adapters/support/base.py``); checked by :meth:`backbone_support`.
    requires: Tuple[str, ...] = ('names', )
    #: backbone parameter groups the method leaves trainable (keys of the
    #: backbone support's ``trainable``), every one required; None: those
    #: of :attr:`default_trainable_groups` the family has. See
    #: :meth:`method_trainable`.
    trainable_groups: Optional[Tuple[str, ...]] = ()
    default_trainable_groups: Tuple[str, ...] = ()

    def __init__(self, module: dict, tasks: Sequence[str],
                 trainable: Sequence[str] = (),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.tasks = self._check_tasks(tasks)
        self.module = MODELS.build(module)
        self.adapters = nn.ModuleDict()
        self.shared = nn.ModuleDict()
        self._sites: List[Tuple[str, AdapterHook, Optional[int]]] = []
        self._replaced: List[str] = []
        self._hooks: List[Tuple[str, object]] = []
        self._region_outputs: List[int] = []
        self._streams_to_end = False
        self.checkpointed_blocks: List[str] = []
        self.insert_adapters()
        self._honour_checkpointing()
        self.trainable_patterns = tuple(self.method_trainable()) + tuple(
            trainable)
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
        if SHARED in tasks:
            raise ValueError(f'{SHARED!r} is reserved for the shared stream '
                             'and cannot be a task name')
        return tasks

    def task_index(self, task: str) -> int:
        """Position of ``task`` in :attr:`tasks` (KeyError names it)."""
        if task not in self.tasks:
            raise KeyError(f'unknown task {task!r}; this backbone was built '
                           f'for {self.tasks}')
        return self.tasks.index(task)

    def insert_adapters(self) -> None:
        """Attach the method's adapters (calls the ``add_*`` methods)."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement insert_adapters()')

    def backbone_support(self, *needs: str):
        """The support of the wrapped backbone's family, checked for the
        capabilities ``needs`` (default :attr:`requires`).

        Raises:
            UnsupportedBackboneError: naming this method, the missing
                capability and the family.
        """
        return require_support(self.module, type(self).__name__,
                               needs or self.requires)

    def method_trainable(self) -> Sequence[str]:
        """Patterns of backbone parameters the method itself leaves
        trainable (called after :meth:`insert_adapters`), before those of
        the ``trainable`` argument: the backbone support's patterns of
        :attr:`trainable_groups`, and the parameters the family adds that
        no pretrained checkpoint holds (e.g. a ViT's feature pyramid)."""
        support = get_support(self.module)
        patterns = list(support.new_parameters) if support else []
        groups = self.trainable_groups
        if groups is None:
            groups = [g for g in self.default_trainable_groups
                      if support is not None and g in support.trainable]
        if groups:
            patterns += self.backbone_support('names').trainable_patterns(
                groups)
        return patterns

    def _honour_checkpointing(self) -> None:
        """Activation checkpointing requested by the wrapped backbone
        (mmseg ``with_cp=True``, timm ``grad_checkpointing``): sites read
        the per-forward context, which the backbone's own checkpoint does
        not restore when it recomputes a block, so the wrapper checkpoints
        the blocks itself (:meth:`set_block_checkpointing`). A backbone
        without sites or hooks keeps its own checkpointing."""
        if not (self.adapters or self._hooks):
            return
        if checkpointing.requested(self.module):
            self.set_block_checkpointing(True)

    def set_block_checkpointing(self, enabled: bool = True) -> None:
        """Checkpoint every block of the wrapped backbone (mmseg Swin:
        ``stages.{i}.blocks.{j}``), or stop checkpointing them (their own
        ``with_cp`` included).

        A checkpointed block stores only its inputs and is recomputed
        during backward inside this forward's context, its records there
        kept from the forward (see
        :mod:`~.checkpointing`); outputs and gradients
        are those without checkpointing.

        Raises:
            ValueError: if the backbone's family has no support naming its
                blocks.
        """
        if enabled and not self.checkpointed_blocks:
            names = checkpointing.block_names(self.module,
                                              type(self).__name__)
            checkpointing.install(self.module, names)
            self.checkpointed_blocks = names
        elif not enabled:
            checkpointing.uninstall(self.module, self.checkpointed_blocks,
                                    restore_with_cp=False)
            self.checkpointed_blocks = []

    @staticmethod
    def _key(target: str) -> str:
        return target.replace('.', '_')

    def _store(self, target: str, adapter: nn.Module) -> None:
        key = self._key(target)
        if key in self.adapters:
            raise KeyError(f'an adapter is already attached at {target!r} '
                           f'(adapter key {key!r})')
        self.adapters[key] = adapter

    def add_adapter(self, target: str, adapter: nn.Module,
                    mode: str = 'parallel', out_index: Optional[int] = None,
                    input_key: Optional[str] = None) -> AdapterHook:
        """Attach ``adapter`` to the backbone submodule named ``target``
        through a forward hook.

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
        if out_index is not None and not hasattr(adapter,
                                                 'forward_with_tasks'):
            raise TypeError(f'adapter at {target!r} feeds task features '
                            f'(out_index={out_index}) but '
                            f'{type(adapter).__name__} has no '
                            'forward_with_tasks')
        self._store(target, adapter)
        hook = AdapterHook(adapter, mode=mode, input_key=input_key,
                           out_index=out_index)
        attach(self.module.get_submodule(target), hook)
        self._sites.append((target, hook, out_index))
        return hook

    def replace(self, target: str, adapter: nn.Module) -> nn.Module:
        """Replace the backbone submodule ``target`` by an adapter site.

        The site keeps the original module (its state-dict keys unchanged,
        see :mod:`~.replace`) and calls
        ``adapter.forward_site(original, *args, **kwargs)``. Sites inside a
        replaced module are kept (e.g. a LoRA ``proj`` inside a replaced
        attention).

        Returns:
            The site now in the backbone.
        """
        self._store(target, adapter)
        site = replace_module(self.module, target, adapter)
        self._replaced.append(target)
        return site

    def add_shared(self, name: str, module: nn.Module) -> nn.Module:
        """Store ``module`` once on the wrapper (in :attr:`shared`) for
        sites and hooks that use it (hypernetworks, templates, prompts,
        gates); it is trainable and counted once."""
        if name in self.shared:
            raise KeyError(f'a shared module {name!r} already exists')
        self.shared[name] = module
        return module

    def add_pre_hook(self, target: str, hook: Callable) -> None:
        """``register_forward_pre_hook(hook)`` on ``target`` (detached by
        :meth:`remove_adapters`)."""
        self.module.get_submodule(target).register_forward_pre_hook(hook)
        self._hooks.append((target, hook))

    def add_hook(self, target: str, hook: Callable) -> None:
        """``register_forward_hook(hook)`` on ``target`` (detached by
        :meth:`remove_adapters`)."""
        self.module.get_submodule(target).register_forward_hook(hook)
        self._hooks.append((target, hook))

    def add_region(self, entry: str, exit: Optional[str] = None,
                   out_index: Optional[int] = None,
                   split: Optional[SplitFn] = None,
                   stack: Optional[StackFn] = None,
                   shared_stream: bool = True) -> None:
        """Run the backbone from module ``entry`` to the end of module
        ``exit`` once per task, batched (see
        :mod:`~.regions`).

        Args:
            entry: module whose input is stacked into streams.
            exit: module whose output ``split`` separates; None: the region
                runs to the end of the backbone and every output is split
                into its task streams.
            out_index: the output the task features replace (with
                ``exit``).
            split: backbone-specific split of ``exit``'s output.
            stack: custom stacking of ``entry``'s input.
            shared_stream: whether a shared stream runs next to the task
                streams (it must when the region has an exit; a region to
                the end needs one only when its sites expect it).
        """
        if exit is None:
            if self._streams_to_end:
                raise ValueError('there is only one region to the end of '
                                 'the backbone')
            self._streams_to_end = True
        elif out_index in self._region_outputs:
            raise KeyError(f'output {out_index} already has a region')
        entry_hook = RegionEntry(stack, shared=shared_stream)
        self.module.get_submodule(entry).register_forward_pre_hook(
            entry_hook, with_kwargs=True)
        self._hooks.append((entry, entry_hook))
        if exit is not None:
            exit_hook = RegionExit(out_index, split)
            self.module.get_submodule(exit).register_forward_hook(
                exit_hook, with_kwargs=True)
            self._hooks.append((exit, exit_hook))
            self._region_outputs.append(out_index)

    def add_regions(self, regions: Sequence[Region],
                    shared_segments: Sequence[str] = ()) -> None:
        """:meth:`add_region` for each placed :class:`Region` (as a backbone
        support places them), then :meth:`add_shared_segment` for each of
        ``shared_segments``."""
        for region in regions:
            self.add_region(*region)
        for segment in shared_segments:
            self.add_shared_segment(segment)

    def add_shared_segment(self, target: str) -> None:
        """Inside a region, run module ``target`` once on the shared stream
        when all streams enter it equal (see
        :mod:`~.regions`); stream-aware sites inside
        expand the streams at the first task-specific layer."""
        module = self.module.get_submodule(target)
        collapse, expand = CollapseStreams(), ExpandStreams()
        module.register_forward_pre_hook(collapse, with_kwargs=True)
        module.register_forward_hook(expand, with_kwargs=True)
        self._hooks += [(target, collapse), (target, expand)]

    def remove_adapters(self) -> nn.Module:
        """Detach every hook, restore replaced modules (and the blocks'
        own checkpointing) and return the plain wrapped backbone."""
        checkpointing.uninstall(self.module, self.checkpointed_blocks)
        self.checkpointed_blocks = []
        for target, hook, _ in self._sites:
            detach(self.module.get_submodule(target), hook)
        for target, hook in self._hooks:
            detach(self.module.get_submodule(target), hook)
        for target in reversed(self._replaced):
            restore_module(self.module, target)
        self._sites, self._hooks, self._replaced = [], [], []
        self._region_outputs, self._streams_to_end = [], False
        self.adapters = nn.ModuleDict()
        self.shared = nn.ModuleDict()
        return self.module

    def merge_adapters(self) -> nn.Module:
        """Fold every replacement adapter into the module it adapts
        (``adapter.merge_into(original)``, e.g. W <- W + s B A), then
        :meth:`remove_adapters` and return the plain wrapped backbone,
        which computes what the adapted one did at no extra cost.

        Raises:
            TypeError: before anything changes, naming every part that
                cannot be merged: hook adapters, plain hooks and regions,
                shared modules, and sites whose adapter has no
                ``merge_into`` or is not ``mergeable`` (e.g. task LoRA).
        """
        blocking = [f'hook adapter at {target!r} '
                    f'({type(hook.adapter).__name__})'
                    for target, hook, _ in self._sites]
        blocking += [f'hook at {target!r} ({type(hook).__name__})'
                     for target, hook in self._hooks]
        blocking += [f'shared module {name!r}' for name in self.shared]
        for target in self._replaced:
            adapter = self.adapters[self._key(target)]
            if not (hasattr(adapter, 'merge_into')
                    and getattr(adapter, 'mergeable', True)):
                blocking.append(f'site {target!r} '
                                f'({type(adapter).__name__})')
        if blocking:
            raise TypeError(f'{type(self).__name__} cannot be merged into '
                            f'the plain backbone: {"; ".join(blocking)}')
        for target in self._replaced:
            site = self.module.get_submodule(target)
            self.adapters[self._key(target)].merge_into(site.base)
        return self.remove_adapters()

    @property
    def out_channels(self):
        """The wrapped backbone's ``out_channels`` (None if it has none)."""
        return getattr(self.module, 'out_channels', None)

    @property
    def emits_task_features(self) -> bool:
        """Whether :meth:`forward` returns ``dict[task, list[Tensor]]``."""
        return (self._streams_to_end or bool(self._region_outputs) or any(
            index is not None for _, _, index in self._sites))

    def sites_per_output(self) -> Dict[int, List[str]]:
        """``{out_index: [target, ...]}`` of the task-feature hook sites."""
        sites: Dict[int, List[str]] = {}
        for target, _, index in self._sites:
            if index is not None:
                sites.setdefault(index, []).append(target)
        return sites

    def prepare_context(self, context: TaskContext) -> None:
        """Fill the context before the backbone runs (e.g. initial prompt
        tokens); nothing by default."""

    def forward(self, x: Tensor) -> Features:
        """Run the backbone once for all tasks.

        Args:
            x: images (B, 3, H, W).

        Returns:
            ``list[Tensor]`` of (B, C_i, H_i, W_i), or
            ``dict[task, list[Tensor]]`` (see the class docstring).
        """
        context = TaskContext(tasks=self.tasks, batch_size=x.shape[0])
        with activate(context):
            self.prepare_context(context)
            outs = list(self.module(x))
        if not self.emits_task_features:
            return outs
        return self._task_features(outs, context)

    def _task_features(self, outs: List[Tensor],
                       context: TaskContext) -> Dict[str, List[Tensor]]:
        """Assemble ``dict[task, list[Tensor]]`` from the shared outputs,
        the region features and the residuals of the context (or split the
        outputs of a region that ran to the end)."""
        if self._streams_to_end:
            streams = [context.split(out) for out in outs]
            return {task: [s[context.streams.index(task)] for s in streams]
                    for task in self.tasks}
        expected = set(self._region_outputs) | set(self.sites_per_output())
        produced = set(context.task_features) | set(context.residuals)
        missing = sorted(expected - produced)
        if missing:
            raise RuntimeError(
                f'no task features were produced for output(s) {missing} '
                f'(sites: {self.sites_per_output()}, regions: '
                f'{sorted(self._region_outputs)}); check stage_points')
        for index in sorted(produced):
            if index >= len(outs):
                raise IndexError(
                    f'task features feed output {index} but the backbone '
                    f'returns {len(outs)} stages')
        feats = {task: list(outs) for task in self.tasks}
        for index, per_task in context.task_features.items():
            for task in self.tasks:
                feats[task][index] = per_task[task]
        for index, residuals in context.residuals.items():
            if index in context.task_features:
                continue
            for task in self.tasks:
                feats[task][index] = feats[task][index] + to_feature_layout(
                    residuals[task], outs[index], f'output {index}')
        return feats

    def init_weights(self) -> None:
        """Backbone init (e.g. its pretrained checkpoint), then the adapters'
        and shared modules' own init (``reset_parameters``), then the
        wrapper's ``init_cfg``."""
        if hasattr(self.module, 'init_weights'):
            self.module.init_weights()
        for adapter in list(self.adapters.values()) + list(
                self.shared.values()):
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
