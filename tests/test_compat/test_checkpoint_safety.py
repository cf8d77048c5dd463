"""Loading a checkpoint runs no code from it (mmmtl.compat.checkpoint).

A pickle whose ``__reduce__`` creates a marker file is saved inside a
checkpoint; every loader must refuse it with a one-line error naming the
file and the refused type, and the marker must not appear.
"""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        load_checkpoint)

from mmmtl.compat.checkpoint import (CheckpointReadError,
                                     UnsafeCheckpointError,
                                     checkpoint_loading, load_local_checkpoint)
from mmmtl.models.backbones.swin_convert import load_state_dict_file


class WriteMarker:
    """Unpickling this object creates the file ``marker``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


def save_malicious(tmp_path, name='evil.pth'):
    """A checkpoint with weights and a marker-writing object in its meta."""
    marker = tmp_path / f'{name}.ran'
    path = tmp_path / name
    torch.save(dict(state_dict=dict(w=torch.ones(2)),
                    meta=dict(payload=WriteMarker(marker))), path)
    return path, marker


def save_mmengine_like(path):
    """What mmengine writes: message hub with history buffers, numpy
    scalars/arrays in meta, optimizer state."""
    hub = MessageHub('ckpt-safety-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float32(0.5))
    hub.update_info('iter', 3)
    torch.save(dict(
        meta=dict(epoch=0, iter=3, hist=np.arange(3, dtype=np.int64),
                  score=np.float64(0.25), flag=np.bool_(True),
                  tasks=('semseg', ), note={1, 2}),
        state_dict=dict(w=torch.ones(2)), message_hub=hub.state_dict(),
        optimizer=dict(state={0: dict(step=torch.tensor(3.))},
                       param_groups=[dict(lr=0.1, params=[0])])), path)


def test_mmengine_checkpoint_contents_load_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    save_mmengine_like(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch's default refuses HistoryBuffer & numpy
    ckpt = load_local_checkpoint(str(path))
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(1.0)
    assert buffer.min() == pytest.approx(0.5)
    assert np.array_equal(ckpt['meta']['hist'], np.arange(3))
    assert ckpt['meta']['score'] == 0.25
    assert ckpt['meta']['note'] == {1, 2}
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert ckpt['optimizer']['param_groups'][0]['lr'] == 0.1
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('loader', ['direct', 'mmengine', 'pretrained'])
def test_malicious_pickle_is_refused_and_does_not_run(tmp_path, loader):
    path, marker = save_malicious(tmp_path)
    with pytest.raises(UnsafeCheckpointError) as err:
        if loader == 'direct':
            load_local_checkpoint(str(path))
        elif loader == 'mmengine':
            with checkpoint_loading():
                _load_checkpoint(str(path))
        else:  # what init_cfg=dict(type='Pretrained') calls
            with checkpoint_loading():
                load_checkpoint(torch.nn.Linear(2, 1), str(path))
    message = str(err.value)
    assert str(path) in message and 'builtins.exec' in message
    assert '--unsafe-load' in message and '\n' not in message
    assert not marker.exists()


def test_history_buffer_getattr_allows_only_statistics(tmp_path):
    class CallsTofile:
        """``getattr(np.ndarray, 'tofile')(arr, path)`` writes a file."""

        def __reduce__(self):
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'getattr.pth'
    torch.save(dict(x=CallsTofile()), path)
    with pytest.raises(UnsafeCheckpointError, match='getattr.pth'):
        load_local_checkpoint(str(path))


def test_scope_forces_weights_only_and_restores_everything(tmp_path):
    path, marker = save_malicious(tmp_path)
    local_loader = CheckpointLoader._get_checkpoint_loader('any.pth')
    os.environ.pop('TORCH_FORCE_WEIGHTS_ONLY_LOAD', None)
    os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] = '1'
    try:
        with checkpoint_loading():
            # other loaders (URLs, third-party code) are forced safe too
            with pytest.raises(pickle.UnpicklingError):
                torch.load(path, weights_only=False)
            assert os.environ['TORCH_FORCE_WEIGHTS_ONLY_LOAD'] == '1'
            assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
        assert not marker.exists()
        assert os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] == '1'
        assert 'TORCH_FORCE_WEIGHTS_ONLY_LOAD' not in os.environ
    finally:
        os.environ.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
    assert CheckpointLoader._get_checkpoint_loader('any.pth') is local_loader
    assert HistoryBuffer not in torch.serialization.get_safe_globals()


def test_scope_keeps_globals_the_user_allowed():
    with torch.serialization.safe_globals([HistoryBuffer]):
        with checkpoint_loading():
            pass
        assert HistoryBuffer in torch.serialization.get_safe_globals()
    assert HistoryBuffer not in torch.serialization.get_safe_globals()


def test_unsafe_opt_in_unpickles_fully(tmp_path):
    path, marker = save_malicious(tmp_path)
    with pytest.warns(UserWarning, match='may run code'):
        with checkpoint_loading(unsafe=True):
            ckpt = _load_checkpoint(str(path))
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert marker.exists()  # the opt-in really runs the file's code


@pytest.mark.parametrize('content, reason', [
    (b'', 'EOFError'), (bytes(range(256)) * 4, 'Unsupported operand'),
    (None, 'failed reading zip archive')])
def test_unreadable_files_are_one_line_naming_the_file(tmp_path, content,
                                                       reason):
    path = tmp_path / 'bad.pth'
    if content is None:  # a truncated real checkpoint
        save_mmengine_like(path)
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(CheckpointReadError) as err:
        load_local_checkpoint(str(path))
    assert not isinstance(err.value, UnsafeCheckpointError)
    message = str(err.value)
    assert str(path) in message and reason in message
    assert '\n' not in message and len(message) < 300


def test_swin_pretrained_file_refuses_malicious_pickle(tmp_path):
    path, marker = save_malicious(tmp_path)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_state_dict_file(str(path))
    assert str(path) in str(err.value) and '\n' not in str(err.value)
    assert not marker.exists()
    path.write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointReadError, match='evil.pth'):
        load_state_dict_file(str(path))
