"""Activation checkpointing of backbone blocks that hold adapter sites.

A checkpointed block keeps only its inputs during the forward and runs
again during backward to rebuild what its backward needs
(``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)``). Adapter
sites inside the block read the per-forward
:class:`~.context.TaskContext` (streams, ``collapsed``,
``hw_shape``, prompts, ``carry``), and some write into it (per-task
residuals, the prompts' attention output and the fields a method's prompt
state adds, such as TADFormer's logits, ``carry`` entries).
By the time backward runs, the forward has moved on (later blocks changed
the streams, the prompts, ``hw_shape``) and its context is no longer the
current one.

:class:`CheckpointedForward` therefore

* snapshots the context's fields when the block is entered (containers
  copied, tensors shared: sites replace tensors, never write into them);
* runs the block's forward once, normally, on the live context (what it
  records there is what the rest of the forward reads);
* recomputes it (:class:`Recomputation`) with the SAME context object made
  current again and its fields set to fresh copies of the snapshot, so every
  site sees what it saw in the forward, then puts the live fields back:
  whatever the recomputation records (residuals, prompt outputs, ``carry``)
  lands in the copies and is dropped, never recorded twice.

The block's own forward (pre-)hooks run outside the checkpointed function,
once per forward: they are not recomputed. Randomness (dropout) is replayed
by ``torch.utils.checkpoint`` (``preserve_rng_state``).
"""
import dataclasses
from contextlib import nullcontext
from functools import partial
from typing import Any, ContextManager, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .context import TaskContext, activate, active_context
from ..support import get_support

ContextState = Dict[str, Any]


def _fresh(value: Any) -> Any:
    """A copy of ``value``'s containers (dicts, lists, tuples, dataclass
    instances such as ``PromptState``) sharing the tensors they hold."""
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fresh(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value)
    return value


def snapshot(context: TaskContext) -> ContextState:
    """Every field of ``context``, containers copied (see :func:`_fresh`)."""
    return {field.name: _fresh(getattr(context, field.name))
            for field in dataclasses.fields(context)}


class Recomputation:
    """Context manager of a block's recomputation (reusable: backward may
    recompute the same block more than once, e.g. with ``retain_graph``).

    On entry ``context`` becomes the current context and its fields fresh
    copies of ``state``; on exit (also when torch stops the recomputation
    early) the fields get back the values they had on entry.

    Args:
        context: the context of the forward that ran the block, or None
            when the block ran outside an adapted backbone's forward.
        state: :func:`snapshot` of ``context`` when the block was entered.
    """

    def __init__(self, context: Optional[TaskContext],
                 state: Optional[ContextState]):
        self.context, self.state = context, state
        self._saved: List[tuple] = []

    def __enter__(self) -> None:
        if self.context is None:
            return
        live = {name: getattr(self.context, name) for name in self.state}
        for name, value in self.state.items():
            setattr(self.context, name, _fresh(value))
        current = activate(self.context)
        current.__enter__()
        self._saved.append((live, current))

    def __exit__(self, *exc_info: Any) -> None:
        if self.context is None:
            return
        live, current = self._saved.pop()
        current.__exit__(*exc_info)
        for name, value in live.items():
            setattr(self.context, name, value)


class CheckpointedForward:
    """Instance ``forward`` of a checkpointed block: the block's class
    ``forward`` through a non-reentrant checkpoint, recomputed in the
    forward's context (module docstring).

    Without autograd recording (``torch.no_grad``, inference) the block runs
    plainly. The block's own ``with_cp`` (mmseg's reentrant checkpoint,
    blind to the context) is switched off while this is installed and
    restored by :func:`uninstall`.

    Args:
        module: the block.
    """

    def __init__(self, module: nn.Module):
        self.module = module
        self.with_cp = getattr(module, 'with_cp', None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        forward = partial(type(self.module).forward, self.module)
        if not torch.is_grad_enabled():
            return forward(*args, **kwargs)
        context = active_context()
        state = snapshot(context) if context is not None else None
        recompute = Recomputation(context, state)

        def contexts() -> Tuple[ContextManager, ContextManager]:
            return nullcontext(), recompute

        return checkpoint(forward, *args, use_reentrant=False,
                          context_fn=contexts, **kwargs)


def requested(backbone: nn.Module) -> bool:
    """Whether ``backbone`` asks for activation checkpointing: its family's
    support says (``with_cp``, timm's ``grad_checkpointing``); without a
    support, any module with ``with_cp=True``."""
    support = get_support(backbone)
    if support is not None:
        return support.checkpointing_requested()
    return any(getattr(m, 'with_cp', False) for m in backbone.modules())


def block_names(backbone: nn.Module, method: str) -> List[str]:
    """Names of the blocks of ``backbone`` that can be checkpointed, in
    forward order; the family's own checkpointing is switched off (the
    blocks' ``with_cp`` by :func:`install`, timm's flags here).

    Raises:
        ValueError: naming ``method`` and the modules that ask for
            checkpointing (``with_cp=True``) when the backbone's family has
            no support telling its blocks.
    """
    support = get_support(backbone)
    if support is None:
        flagged = [name for name, module in backbone.named_modules()
                   if getattr(module, 'with_cp', False)]
        where = f' (with_cp=True on {flagged[:3]})' if flagged else ''
        raise ValueError(
            f'{method} cannot checkpoint the blocks of '
            f'{type(backbone).__name__}{where}: activation checkpointing '
            'with adapter sites needs backbone support naming its blocks; '
            'set with_cp=False')
    support.stop_own_checkpointing()
    return [name for _, name in support.blocks('all')]


def install(backbone: nn.Module, names: List[str]) -> None:
    """Checkpoint the blocks ``names`` of ``backbone``
    (:class:`CheckpointedForward` as their instance ``forward``)."""
    for name in names:
        block = backbone.get_submodule(name)
        if isinstance(block.__dict__.get('forward'), CheckpointedForward):
            continue
        block.forward = CheckpointedForward(block)
        if hasattr(block, 'with_cp'):
            block.with_cp = False


def uninstall(backbone: nn.Module, names: List[str],
              restore_with_cp: bool = True) -> None:
    """Undo :func:`install`: the class ``forward`` of every block ``names``
    and its original ``with_cp`` (or, with ``restore_with_cp=False``,
    ``with_cp=False``: no checkpointing at all)."""
    for name in names:
        block = backbone.get_submodule(name)
        wrapper = block.__dict__.get('forward')
        if not isinstance(wrapper, CheckpointedForward):
            continue
        del block.forward
        if wrapper.with_cp is not None:
            block.with_cp = wrapper.with_cp and restore_with_cp
