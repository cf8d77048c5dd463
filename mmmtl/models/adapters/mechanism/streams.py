"""Splitting a stream-aware site's input into the shared stream and the task
streams, and joining its per-stream outputs back.

Inside a per-task region with a shared stream (:mod:`~.regions`) a site is
called on the stacked streams (S * M, ...), S = 1 + T, shared first, or,
while the streams are collapsed (:mod:`~.regions`' shared segments), on the
shared stream alone (M, ...). A site that gives each task stream its own
parameters

1. splits its input with :func:`split_streams` (the shared stream, and the
   task streams or None while collapsed: every task stream is then the
   shared one, and the site returns all S streams);
2. computes the shared stream's output (M, ...) and the task streams'
   (T, M, ...), typically with task-stacked weights and one batched matmul;
3. joins them with :func:`join_streams` into (S * M, ...).
"""
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .context import TaskContext


class TaskStreams(NamedTuple):
    """A site's input inside a region, split by :func:`split_streams`."""

    shared: Tensor  # (M, ...), the shared stream
    tasks: Optional[Tensor]  # (T, M, ...), None while collapsed

    @property
    def collapsed(self) -> bool:
        """Whether every task stream is the shared one (not materialised)."""
        return self.tasks is None


def split_streams(context: TaskContext, x: Tensor) -> TaskStreams:
    """The shared and task streams of a site's input ``x`` (stacked
    (S * M, ...) or collapsed (M, ...)); afterwards the context counts as
    stacked (:meth:`TaskContext.expand_streams`), so the site returns all
    S streams."""
    collapsed = context.collapsed
    streams = context.expand_streams(x)
    return TaskStreams(streams[0], None if collapsed else streams[1:])


def join_streams(shared: Tensor, tasks: Tensor) -> Tensor:
    """Shared stream (M, ...) and task streams (T, M, ...) -> the stacked
    (S * M, ...), shared first."""
    out = torch.cat([shared.unsqueeze(0), tasks])
    return out.view(-1, *out.shape[2:])
