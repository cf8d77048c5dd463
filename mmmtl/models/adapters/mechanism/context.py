"""The task context: what adapters inside a backbone read during a forward.

An :class:`~mmmtl.models.adapters.AdaptedBackbone` opens one
:class:`TaskContext` per forward (:func:`activate`); every site inside the
wrapped backbone reads it with :func:`current_context`. It carries

* the task names and the batch size B;
* the **streams** the current activations hold. Outside a per-task region
  there is one stream, the shared one (activations of batch B). Inside a
  region (:mod:`~.regions`) the activations are the
  streams stacked along the batch axis, stream-major: stream ``s`` is rows
  ``[s * M, (s + 1) * M)`` of a tensor of ``S * M`` rows (M = B images, or
  B * number-of-windows inside window attention). Stream 0 is the shared
  stream, stream ``1 + t`` task ``t``;
* the spatial shape of the block being run (``hw_shape``, set by the
  backbone support's probes);
* prompt tokens for prompted attention (:class:`PromptState`);
* ``carry``: method state passed between sites and hooks within the
  forward (e.g. prompt tokens carried from block to block);
* what the forward produced besides the backbone's outputs: per-task
  residuals recorded at stage points and per-task stage features recorded at
  region exits.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Dict, Iterator, Optional, Tuple

from torch import Tensor

SHARED = 'shared'

_CURRENT: ContextVar[Optional['TaskContext']] = ContextVar(
    'mmmtl_task_context', default=None)


@dataclass
class PromptState:
    """Prompt tokens of the block being run (see the backbone support's
    prompted attention).

    Attributes:
        tokens: prompts entering the attention, (B, P, C), already through the
            block's first norm; one set per image (the attention tiles them
            over streams and windows).
        out: the attention output at the prompt positions, averaged over the
            windows of each image, shared stream only, (B, P, C).

    A method that needs more of the attention subclasses it (TADFormer's
    ``TaskPromptState`` adds the prompt-to-patch logits).
    """

    tokens: Tensor
    out: Optional[Tensor] = None

    @property
    def length(self) -> int:
        """P, the number of prompt tokens."""
        return self.tokens.shape[1]


@dataclass
class TaskContext:
    """State of one forward of an adapted backbone (module docstring)."""

    tasks: Tuple[str, ...]
    batch_size: int
    streams: Tuple[str, ...] = (SHARED, )
    collapsed: bool = False
    hw_shape: Optional[Tuple[int, int]] = None
    prompts: Optional[PromptState] = None
    carry: Dict[str, Tensor] = field(default_factory=dict)
    residuals: Dict[int, Dict[str, Tensor]] = field(default_factory=dict)
    task_features: Dict[int, Dict[str, Tensor]] = field(default_factory=dict)

    @property
    def num_streams(self) -> int:
        """S, the number of stacked streams (1 outside regions)."""
        return len(self.streams)

    @property
    def stacked(self) -> bool:
        """Whether the activations hold several streams."""
        return len(self.streams) > 1

    def enter_region(self, shared: bool = True) -> None:
        """Switch to the shared stream followed by one stream per task (or,
        with ``shared=False``, to the task streams alone)."""
        if self.stacked:
            raise RuntimeError('per-task regions cannot be nested: a region '
                               'entry was reached inside another region')
        self.streams = ((SHARED, ) if shared else ()) + self.tasks

    def leave_region(self) -> None:
        """Back to the shared stream alone."""
        self.streams = (SHARED, )
        self.collapsed = False

    @property
    def rows_per_stream(self) -> int:
        """How many streams the current activations hold physically: S, or
        1 outside regions and while collapsed."""
        return 1 if self.collapsed else self.num_streams

    def expand_streams(self, x: Tensor) -> Tensor:
        """The (S, M, ...) streams of ``x`` for a stream-aware site.

        Stacked activations (S * M, ...) are split (a view); collapsed ones
        (M, ...) are the shared stream, broadcast to every stream (an
        expanded view), and the context counts as stacked again: the site
        returns S * M rows.
        """
        if self.collapsed:
            self.collapsed = False
            return x.unsqueeze(0).expand(self.num_streams, *x.shape)
        return self.split(x)

    def stack(self, x: Tensor) -> Tensor:
        """(M, ...) -> (S * M, ...): the same activations for every stream."""
        return x.repeat(self.num_streams, *([1] * (x.dim() - 1)))

    def split(self, x: Tensor) -> Tensor:
        """(S * M, ...) -> (S, M, ...), a view."""
        if x.shape[0] % self.num_streams:
            raise ValueError(f'a tensor of {x.shape[0]} rows cannot hold '
                             f'{self.num_streams} stacked streams')
        return x.view(self.num_streams, x.shape[0] // self.num_streams,
                      *x.shape[1:])

    def add_residuals(self, out_index: int,
                      residuals: Dict[str, Tensor]) -> None:
        """Accumulate per-task residuals feeding output ``out_index``."""
        slot = self.residuals.setdefault(out_index, {})
        for task, residual in residuals.items():
            slot[task] = residual if task not in slot else \
                slot[task] + residual

    @contextmanager
    def shared_only(self) -> Iterator[None]:
        """Temporarily treat activations as the shared stream alone (e.g.
        for prompt tokens updated inside a region)."""
        streams, collapsed = self.streams, self.collapsed
        self.streams, self.collapsed = (SHARED, ), False
        try:
            yield
        finally:
            self.streams, self.collapsed = streams, collapsed


@contextmanager
def activate(context: TaskContext) -> Iterator[TaskContext]:
    """Make ``context`` the current one for the duration of the block."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def active_context() -> Optional[TaskContext]:
    """The current context, or None outside an adapted backbone's forward
    (and outside a recomputation of one of its checkpointed blocks)."""
    return _CURRENT.get()


def current_context() -> TaskContext:
    """The context of the adapted backbone whose forward is running.

    Raises:
        RuntimeError: outside such a forward (e.g. the wrapped backbone was
            called directly, or its blocks are recomputed by a checkpoint
            other than the wrapper's, see
            :mod:`~.checkpointing`).
    """
    context = _CURRENT.get()
    if context is None:
        raise RuntimeError(
            'an adapter site was called outside the forward of its adapted '
            'backbone; call the wrapper (not the wrapped module), and '
            'checkpoint blocks only through the wrapper (with_cp=True on the '
            'wrapped Swin, or set_block_checkpointing)')
    return context
