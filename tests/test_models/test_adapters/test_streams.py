"""Stream split / join helpers of stream-aware sites (mechanism/streams.py)
and the LoRA shared-stream helper built on them."""
import torch
from torch import nn

from mmmtl.models.adapters.layers.lora import low_rank, shared_stream_lora
from mmmtl.models.adapters.mechanism.context import TaskContext
from mmmtl.models.adapters.mechanism.streams import (join_streams,
                                                     split_streams)


def region_context(num_tasks=2, batch=3, collapsed=False):
    context = TaskContext(tasks=tuple(f't{i}' for i in range(num_tasks)),
                          batch_size=batch)
    context.enter_region()
    context.collapsed = collapsed
    return context


def test_split_then_join_is_the_identity_on_stacked_streams():
    context = region_context()
    x = torch.randn(3 * 3, 4, 5)
    streams = split_streams(context, x)
    assert not streams.collapsed
    torch.testing.assert_close(streams.shared, x[:3])
    torch.testing.assert_close(streams.tasks, x[3:].view(2, 3, 4, 5))
    torch.testing.assert_close(join_streams(streams.shared, streams.tasks), x)


def test_collapsed_streams_give_the_shared_one_and_expand_the_context():
    context = region_context(collapsed=True)
    x = torch.randn(3, 4, 5)
    streams = split_streams(context, x)
    assert streams.collapsed and streams.tasks is None
    torch.testing.assert_close(streams.shared, x)
    assert not context.collapsed  # the site now returns all S streams
    out = join_streams(streams.shared, streams.shared.expand(2, 3, 4, 5))
    torch.testing.assert_close(out, x.repeat(3, 1, 1))


def test_shared_stream_lora_equation():
    torch.manual_seed(0)
    base = nn.Linear(5, 6)
    down, up = torch.randn(2, 5), torch.randn(6, 2)
    x = torch.randn(3, 4, 5)
    frozen, dropped, out = shared_stream_lora(base, x, nn.Identity(), down,
                                              up)
    torch.testing.assert_close(frozen, base(x))
    torch.testing.assert_close(dropped, x)
    torch.testing.assert_close(out, base(x) + low_rank(x, down, up))
