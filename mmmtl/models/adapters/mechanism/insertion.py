"""Attaching adapter modules to a backbone's submodules through forward hooks.

An adapter never becomes a child of the module it adapts: the hook object
holds a reference to it, and the adapter itself lives on the wrapper
(:class:`~mmmtl.models.adapters.AdaptedBackbone`). Therefore

* the wrapped backbone's module tree and state-dict keys are unchanged, so
  its pretrained checkpoints load as usual;
* the backbone's own ``init_weights`` never touches the adapters;
* ``copy.deepcopy`` of the wrapper copies the hook objects together with the
  adapters, and deepcopy's memo makes each copied hook point at the copied
  adapter.

Modes (``x``: the hooked module's input, ``y``: its output):

* ``parallel``: ``y + adapter(x)`` (e.g. beside a transformer block's MLP);
* ``sequential``: ``adapter(y)``;
* ``wrap``: ``y + adapter(x)`` on an ``nn.Linear`` (LoRA-style); the adapter
  must map ``in_features`` to ``out_features``.
"""
import re
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .context import current_context

MODES = ('parallel', 'sequential', 'wrap')


def find_modules(root: nn.Module, pattern: str) -> List[Tuple[str, nn.Module]]:
    """Submodules of ``root`` whose qualified name fully matches ``pattern``.

    Args:
        root: the module to search (its ``named_modules()``).
        pattern: a regular expression matched with ``re.fullmatch``.

    Returns:
        ``[(name, module), ...]`` in ``named_modules()`` order.

    Raises:
        ValueError: if nothing matches; the message names the pattern and
            shows a few module names of ``root``.
    """
    regex = re.compile(pattern)
    found = [(name, module) for name, module in root.named_modules()
             if name and regex.fullmatch(name)]
    if not found:
        names = [name for name, _ in root.named_modules() if name]
        examples = ', '.join(names[:4] + ['...'] + names[-4:]) if len(
            names) > 8 else ', '.join(names)
        raise ValueError(
            f'pattern {pattern!r} matches no module of '
            f'{type(root).__name__} (full match over named_modules(); '
            f'examples: {examples})')
    return found


def hooked_input(args: tuple, kwargs: Dict[str, Any],
                 input_key: Optional[str]) -> Tensor:
    """The tensor a hooked module was called with.

    ``args[0]`` by default, or ``kwargs[input_key]`` when ``input_key`` is
    given (for modules called with keyword arguments only).
    """
    if input_key is not None:
        if input_key not in kwargs:
            raise KeyError(f'hooked module was called without keyword '
                           f'{input_key!r} (got {sorted(kwargs)})')
        return kwargs[input_key]
    if not args:
        raise KeyError('hooked module was called without positional input; '
                       'set input_key to the keyword that carries it '
                       f'(got {sorted(kwargs)})')
    return args[0]


class AdapterHook:
    """Forward hook that applies ``adapter`` to a module's input or output.

    Registered with ``register_forward_hook(hook, with_kwargs=True)``. When
    ``out_index`` is given the adapter must implement
    ``forward_with_tasks(x) -> (delta, {task: residual})``; the residuals go
    to the current :class:`~.context.TaskContext`,
    which adds them to output ``out_index`` of task ``t`` (a stage point).

    Args:
        adapter: the module applied by the hook.
        mode: one of :data:`MODES`.
        input_key: keyword carrying the hooked module's input (default:
            the first positional argument).
        out_index: the backbone output the task residuals feed, or None.
    """

    def __init__(self, adapter: nn.Module, mode: str = 'parallel',
                 input_key: Optional[str] = None,
                 out_index: Optional[int] = None):
        if mode not in MODES:
            raise ValueError(f'adapter mode {mode!r} is not one of {MODES}')
        self.adapter = adapter
        self.mode = mode
        self.input_key = input_key
        self.out_index = out_index

    def __call__(self, module: nn.Module, args: tuple,
                 kwargs: Dict[str, Any], output: Tensor) -> Tensor:
        if self.mode == 'sequential':
            source = output
        else:
            source = hooked_input(args, kwargs, self.input_key)
        if self.out_index is not None:
            delta, residuals = self.adapter.forward_with_tasks(source)
            current_context().add_residuals(self.out_index, residuals)
        else:
            delta = self.adapter(source)
        if self.mode == 'sequential':
            return delta
        return output + delta


class BoundHook:
    """A hook that calls ``getattr(owner, method)(*bound, *hook_args)``.

    Unlike a closure, it follows its owner through ``copy.deepcopy`` (the
    copy's hooks call the copied owner, which uses the copied modules).

    Args:
        owner: usually the adapted backbone.
        method: name of the owner's method to call.
        *bound: leading arguments (e.g. the block name).
    """

    def __init__(self, owner: object, method: str, *bound: Any):
        self.owner, self.method, self.bound = owner, method, bound

    def __call__(self, *args: Any) -> Any:
        return getattr(self.owner, self.method)(*self.bound, *args)


def attach(module: nn.Module,
           hook: AdapterHook) -> torch.utils.hooks.RemovableHandle:
    """Register ``hook`` on ``module`` (checks ``wrap`` targets a Linear)."""
    if hook.mode == 'wrap' and not isinstance(module, nn.Linear):
        raise TypeError(f"adapter mode 'wrap' needs an nn.Linear, got "
                        f'{type(module).__name__}')
    return module.register_forward_hook(hook, with_kwargs=True)


def detach(module: nn.Module, hook: object) -> None:
    """Remove every registration of ``hook`` from ``module``'s forward and
    forward-pre hooks.

    Works on deep copies too (where the original handles would point at the
    original module's hook dictionary).
    """
    for hooks, extras in (
        (module._forward_hooks, (module._forward_hooks_with_kwargs,
                                 module._forward_hooks_always_called)),
        (module._forward_pre_hooks, (module._forward_pre_hooks_with_kwargs,)),
    ):
        for key in [key for key, value in hooks.items() if value is hook]:
            del hooks[key]
            for extra in extras:
                extra.pop(key, None)


class ChannelsFirst(nn.Module):
    """Run a channels-last adapter on channels-first (B, C, H, W) inputs.

    For modules such as timm ConvNeXt's ``ConvMlp`` (1x1 convolutions on
    NCHW maps): the input is permuted to (B, H, W, C) for ``adapter`` and
    every output (the shared delta and, through ``forward_with_tasks``, the
    task residuals) back to (B, C, H, W).
    """

    def __init__(self, adapter: nn.Module):
        super().__init__()
        self.adapter = adapter

    def reset_parameters(self) -> None:
        self.adapter.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.adapter(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward_with_tasks(self,
                           x: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        shared, residuals = self.adapter.forward_with_tasks(
            x.permute(0, 2, 3, 1))
        return shared.permute(0, 3, 1, 2), {
            task: res.permute(0, 3, 1, 2) for task, res in residuals.items()}
