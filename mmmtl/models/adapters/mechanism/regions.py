"""Per-task regions: a part of the backbone run once per task, batched.

A region is delimited by two modules of the backbone:

* at its **entry** (a forward pre-hook) the input activations, (B, ...), are
  stacked into ``1 + T`` streams along the batch axis, ((1 + T) * B, ...):
  the shared stream and one copy per task (or, with a custom ``stack``,
  e.g. the shared input plus each task's residual);
* inside, every module runs once on all streams; adapter sites read the
  :class:`~.context.TaskContext` to apply each stream's
  own parameters (task-stacked weights, one batched matmul);
* at its **exit** (a forward hook) a backbone-specific ``split`` hands the
  shared stream back to the rest of the backbone and records each task's
  stage feature, (B, C, H, W), for output ``out_index``. A region without an
  exit runs to the end of the backbone: every output holds the stacked
  streams, and the wrapper splits them per task (e.g. methods whose every
  layer is task-specific, with no shared stream at all).

A **shared segment** (:class:`CollapseStreams` / :class:`ExpandStreams`) is a
module inside a region whose input is the same in every stream (e.g. the
attention of the region's first block, before any task-specific layer): it
runs once, on the shared stream, and the first stream-aware site inside it
(or its end) expands the streams again.

Equality with running the region once per task in a Python loop is what the
tests check. The backbone support (``adapters/support``) knows where a
family's regions start and end and how to split their outputs.
"""
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor, nn

from .context import TaskContext, current_context

StackFn = Callable[[TaskContext, Tensor], Tensor]
SplitFn = Callable[[TaskContext, Any], Tuple[Any, Dict[str, Tensor]]]


class RegionEntry:
    """Forward pre-hook stacking the first input into task streams.

    Args:
        stack: ``stack(context, x) -> (S * B, ...)``, called after the
            context switched to stacked streams; default
            :meth:`TaskContext.stack` (every stream starts from ``x``).
        shared: whether the streams include the shared one.
    """

    def __init__(self, stack: Optional[StackFn] = None, shared: bool = True):
        self.stack = stack
        self.shared = shared

    def __call__(self, module: nn.Module, args: tuple,
                 kwargs: Dict[str, Any]) -> Tuple[tuple, Dict[str, Any]]:
        context = current_context()
        context.enter_region(self.shared)
        x = args[0]
        stacked = (self.stack(context, x) if self.stack is not None else
                   context.stack(x))
        return (stacked, ) + tuple(args[1:]), kwargs


class RegionExit:
    """Forward hook that splits the streams at the end of a region.

    Args:
        out_index: the backbone output the task features replace.
        split: ``split(context, output) -> (output for the rest of the
            backbone, {task: (B, C, H, W)})``, called while the context is
            still stacked.
    """

    def __init__(self, out_index: int, split: SplitFn):
        self.out_index = out_index
        self.split = split

    def __call__(self, module: nn.Module, args: tuple,
                 kwargs: Dict[str, Any], output: Any) -> Any:
        context = current_context()
        if not context.stacked:
            raise RuntimeError(
                f'region exit for output {self.out_index} reached without '
                'its entry; check the region boundaries')
        shared, features = self.split(context, output)
        context.leave_region()
        context.task_features[self.out_index] = features
        return shared


class CollapseStreams:
    """Forward pre-hook of a shared segment: run it on stream 0 only.

    Valid only where every stream holds the same activations (the method
    that adds it guarantees this).
    """

    def __call__(self, module: nn.Module, args: tuple,
                 kwargs: Dict[str, Any]) -> Optional[Tuple[tuple, Dict]]:
        context = current_context()
        if not context.stacked or context.collapsed:
            return None
        context.collapsed = True
        return (context.split(args[0])[0], ) + tuple(args[1:]), kwargs


class ExpandStreams:
    """Forward hook ending a shared segment: stack its output again if no
    site inside expanded the streams."""

    def __call__(self, module: nn.Module, args: tuple,
                 kwargs: Dict[str, Any], output: Tensor) -> Tensor:
        context = current_context()
        if not context.collapsed:
            return output
        context.collapsed = False
        return context.stack(output)


def residual_stack(out_index: int) -> StackFn:
    """Region stacking from stage-point residuals: the shared input, then
    shared + task t's residuals recorded for ``out_index``, (B, ...) ->
    ((1 + T) * B, ...)."""

    def stack(context: TaskContext, x: Tensor) -> Tensor:
        residuals = context.residuals.pop(out_index)
        return torch.cat([x] + [x + residuals[task]
                                for task in context.tasks])

    return stack
