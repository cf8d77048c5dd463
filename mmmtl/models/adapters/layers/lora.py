"""Low-rank adapters on a frozen ``nn.Linear``, as replacement sites.

Shared stream (and everywhere outside a per-task region)::

    y = W x + b + s * B A dropout(x)           A (r, d_in), B (d_out, r)

Inside a per-task region, task stream t (input x_t) with task-stacked
A_t (T, r_t, d_in), B_t (T, d_out, r_t), computed for all tasks with one
batched matmul (one plain matmul when the streams arrive collapsed, i.e. all
equal to the shared input)::

    y_t = W x_src + b + s_t * B_t A_t x_t

where ``x_src`` is the shared stream's input (``frozen_input='shared'``,
MTLoRA's released code: the frozen weight is applied once, to the shared
stream) or the task stream's own input (``frozen_input='task'``: the task
stream is an independent run of the layer). The shared LoRA is not part of
the task streams (MTLoRA's ``'matrix'`` mode). LoRA dropout applies to the
shared stream's input only (task streams whose input is the shared one, in
a collapsed segment, reuse that dropped input), as in the released code.

A initialised kaiming-uniform (a = sqrt(5)), B zeros, so every adapted
layer starts as the frozen one.

A shared-only site (``task_rank == 0``) can be folded into its layer for
deployment, W <- W + s B A (:meth:`LoRALinear.merge_into`), and taken out
again, W <- W - s B A (:meth:`LoRALinear.unmerge_from`).
"""
import math
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..mechanism.context import current_context
from ..mechanism.streams import join_streams, split_streams

FROZEN_INPUTS = ('shared', 'task')


def init_low_rank_(down: Tensor, up: Tensor) -> None:
    """Kaiming-uniform (a = sqrt(5)) ``down`` (per leading index when
    stacked), zero ``up``."""
    with torch.no_grad():
        for matrix in down.view(-1, *down.shape[-2:]):
            nn.init.kaiming_uniform_(matrix, a=math.sqrt(5))
    nn.init.zeros_(up)


def low_rank(x: Tensor, down: Tensor, up: Tensor) -> Tensor:
    """x (..., d_in) -> x A^T B^T (..., d_out) with A (r, d_in), B (d_out, r).
    """
    return x @ down.t() @ up.t()


def shared_stream_lora(base: Callable[[Tensor], Tensor], x: Tensor,
                       dropout: nn.Module, down: Tensor,
                       up: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """A LoRA site on the shared stream x (M, ..., d_in): the frozen
    output W x + b, the dropped-out input dropout(x), and the site's output
    W x + b + B A dropout(x) (``up``: B with the scale folded in)."""
    frozen = base(x)
    dropped = dropout(x)
    return frozen, dropped, frozen + low_rank(dropped, down, up)


def task_low_rank(x: Tensor, down: Tensor, up: Tensor,
                  shared_input: bool = False) -> Tensor:
    """Per-task low rank with A (T, r, d_in), B (T, d_out, r).

    x is the task streams (T, M, ..., d_in), one per task, or, with
    ``shared_input``, one input (M, ..., d_in) for every task (then the T
    down-projections are one matmul). Returns (T, M, ..., d_out).
    """
    num_tasks, rank, _ = down.shape
    if not shared_input:
        flat = x.reshape(num_tasks, -1, x.shape[-1])
        low = flat @ down.transpose(1, 2)
        lead = x.shape[1:-1]
    else:
        flat = x.reshape(-1, x.shape[-1])
        low = (flat @ down.reshape(num_tasks * rank, -1).t()).view(
            -1, num_tasks, rank).transpose(0, 1)
        lead = x.shape[:-1]
    return (low @ up.transpose(1, 2)).view(num_tasks, *lead, up.shape[1])


class LoRALinear(nn.Module):
    """Shared LoRA (and optional task LoRA) for one ``nn.Linear`` site.

    Args:
        in_features: d_in of the adapted Linear.
        out_features: d_out.
        rank: r of the shared LoRA.
        scale: s, multiplied directly (MTLoRA), not alpha / r.
        dropout: dropout on the LoRA input.
        tasks: task names (for task LoRA).
        task_rank: r_t of the task LoRA; 0 for shared LoRA only.
        task_scale: s_t (default ``scale``).
        frozen_input: ``'shared'`` or ``'task'`` (module docstring).
    """

    def __init__(self, in_features: int, out_features: int, rank: int,
                 scale: float = 1.0, dropout: float = 0.0,
                 tasks: Sequence[str] = (), task_rank: int = 0,
                 task_scale: Optional[float] = None,
                 frozen_input: str = 'shared'):
        super().__init__()
        if rank < 1:
            raise ValueError(f'LoRA rank must be >= 1, got {rank}')
        if frozen_input not in FROZEN_INPUTS:
            raise ValueError(f'frozen_input {frozen_input!r} is not one of '
                             f'{FROZEN_INPUTS}')
        if task_rank and not tasks:
            raise ValueError('task_rank > 0 needs the task names')
        self.in_features, self.out_features = in_features, out_features
        self.rank, self.scale = rank, scale
        self.tasks = tuple(tasks)
        self.task_rank = task_rank
        self.task_scale = scale if task_scale is None else task_scale
        self.frozen_input = frozen_input
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.lora_a = nn.Parameter(torch.empty(rank, in_features))
        self.lora_b = nn.Parameter(torch.empty(out_features, rank))
        if task_rank:
            num_tasks = len(self.tasks)
            self.task_a = nn.Parameter(
                torch.empty(num_tasks, task_rank, in_features))
            self.task_b = nn.Parameter(
                torch.empty(num_tasks, out_features, task_rank))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_low_rank_(self.lora_a, self.lora_b)
        if self.task_rank:
            init_low_rank_(self.task_a, self.task_b)

    def delta(self, x: Tensor) -> Tensor:
        """Shared-LoRA term s * B A dropout(x), (..., d_out); s scales the
        (d_out, r) matrix, not the activations."""
        return low_rank(self.dropout(x), self.lora_a,
                        self.scale * self.lora_b)

    @property
    def mergeable(self) -> bool:
        """Whether the site folds into one weight (shared LoRA only: with
        task LoRA every task stream has its own weight)."""
        return not self.task_rank

    def weight_delta(self) -> Tensor:
        """s * B A, (d_out, d_in): what the shared LoRA adds to W."""
        return self.scale * self.lora_b @ self.lora_a

    def merge_into(self, base: nn.Linear) -> None:
        """Fold the shared LoRA into ``base``: W <- W + s B A (in place).

        Raises:
            ValueError: if the site has task LoRA or ``base`` is not the
                (d_out, d_in) layer it adapts.
        """
        self._fold(base, 1.0)

    def unmerge_from(self, base: nn.Linear) -> None:
        """Inverse of :meth:`merge_into`: W <- W - s B A (in place)."""
        self._fold(base, -1.0)

    def _fold(self, base: nn.Linear, sign: float) -> None:
        if not self.mergeable:
            raise ValueError(
                f'a LoRALinear with task LoRA (task_rank={self.task_rank}, '
                f'tasks {self.tasks}) cannot be merged into one weight: '
                'every task stream has its own')
        shape = (self.out_features, self.in_features)
        if tuple(base.weight.shape) != shape:
            raise ValueError(f'cannot merge a {shape} LoRA into a weight of '
                             f'shape {tuple(base.weight.shape)}')
        with torch.no_grad():
            base.weight.add_(self.weight_delta().to(base.weight.dtype),
                             alpha=sign)

    def forward_site(self, base: nn.Module, x: Tensor) -> Tensor:
        """x: (..., d_in), or inside a region (S * M, ..., d_in) stacked
        streams (shared first), or (M, ..., d_in) while they are collapsed.

        As in the released code, dropout applies to the shared stream's
        LoRA input; collapsed task streams use that same dropped input
        (their input is the shared one), stacked task streams their own
        input without dropout.
        """
        context = current_context() if self.task_rank else None
        if context is None or not context.stacked:
            return base(x) + self.delta(x)
        streams = split_streams(context, x)
        frozen, dropped, shared = shared_stream_lora(
            base, streams.shared, self.dropout, self.lora_a,
            self.scale * self.lora_b)
        collapsed = streams.collapsed
        task_in = dropped if collapsed else streams.tasks
        if self.frozen_input == 'task' and not collapsed:
            frozen_tasks = base(streams.tasks)
        else:
            frozen_tasks = frozen.unsqueeze(0)
        tasks = frozen_tasks + task_low_rank(
            task_in, self.task_a, self.task_scale * self.task_b,
            shared_input=collapsed)
        return join_streams(shared, tasks)

    def extra_repr(self) -> str:
        text = (f'{self.in_features}->{self.out_features}, r={self.rank}, '
                f'scale={self.scale}')
        if self.task_rank:
            text += (f', task_r={self.task_rank} x {len(self.tasks)}, '
                     f'task_scale={self.task_scale}, '
                     f'frozen_input={self.frozen_input}')
        return text
