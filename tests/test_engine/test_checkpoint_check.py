"""check_checkpoint_fits / check_resumable on a small two-task model."""
import pytest
import torch
from torch import nn

from mmmtl.engine.checkpoint_check import (CheckpointMismatchError,
                                           check_checkpoint_fits,
                                           check_resumable)


class TwoTaskModel(nn.Module):
    """A frozen layer, a trainable adapter and two task heads."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)
        self.adapter = nn.Linear(2, 2)
        self.heads = nn.ModuleDict(dict(semseg=nn.Linear(2, 3),
                                        depth=nn.BatchNorm1d(2)))


def checkpoint(model, drop=(), **extra):
    state = {k: v for k, v in model.state_dict().items() if k not in drop}
    state.update(extra)
    return dict(meta=dict(experiment_name='tiny_vmt_20260101_120000'),
                state_dict={f'module.{k}': v for k, v in state.items()})


def test_full_checkpoint_fits_initialised_or_not():
    model = TwoTaskModel()
    for initialised in (True, False):
        check_checkpoint_fits(model, checkpoint(model), 'ok.pth',
                              initialised=initialised)


def test_frozen_entries_may_be_missing_only_when_initialised():
    model = TwoTaskModel()
    ckpt = checkpoint(model, drop=('frozen.weight', 'frozen.bias'))
    check_checkpoint_fits(model, ckpt, 'f.pth', initialised=True)
    with pytest.raises(CheckpointMismatchError,
                       match=r'uninitialised model it would leave unloaded '
                       r'\(2\): frozen.weight, frozen.bias'):
        check_checkpoint_fits(model, ckpt, 'f.pth', initialised=False)


@pytest.mark.parametrize('key', ['adapter.weight',
                                 'heads.depth.running_mean'])
def test_trainable_and_head_entries_must_be_loaded(key):
    model = TwoTaskModel()
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_fits(model, checkpoint(model, drop=(key, )),
                              'part.pth', initialised=True)
    message = str(err.value)
    assert message.startswith('checkpoint part.pth does not hold')
    assert f'trainable or task-head entries it would leave unloaded (1): ' \
        f'{key}' in message
    assert "saved from config 'tiny_vmt'" in message


def test_missing_task_head_unexpected_key_and_shape_are_named():
    model = TwoTaskModel()
    ckpt = checkpoint(model, drop=[k for k in model.state_dict()
                                   if k.startswith('heads.depth.')],
                      **{'extra.weight': torch.zeros(1),
                         'adapter.bias': torch.zeros(5)})
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_fits(model, ckpt, 'x.pth', initialised=True)
    message = str(err.value)
    assert "checkpoint tasks ['semseg'], model tasks ['depth', 'semseg']" \
        in message
    assert "no weights for the heads of tasks ['depth']" in message
    assert 'unexpected keys (1): extra.weight' in message
    assert 'shape mismatches, checkpoint vs model (1): adapter.bias (5,) ' \
        'vs (2,)' in message


@pytest.mark.parametrize('bad', [{'a': 1}, [torch.zeros(1)],
                                 dict(state_dict=dict(a='text'))])
def test_no_weights(bad):
    with pytest.raises(CheckpointMismatchError,
                       match='checkpoint n.pth holds no model weights'):
        check_checkpoint_fits(TwoTaskModel(), bad, 'n.pth')


def test_resumable_needs_training_state():
    check_resumable(dict(meta=dict(epoch=0, iter=2), message_hub={}), 'r')
    with pytest.raises(CheckpointMismatchError,
                       match='resume from checkpoint r.pth: it has no '
                       'message_hub, meta.iter'):
        check_resumable(dict(meta=dict(epoch=0)), 'r.pth')
