"""AtomicCheckpointHook: a crash at any file operation of a save leaves
``last_checkpoint`` naming a complete checkpoint (mmengine's CheckpointHook
does not), old and best checkpoints go only after the new ones, and temporary
files of dead writers are cleaned up."""
import io
import logging
import os
import os.path as osp
import subprocess
import sys
import uuid

import pytest
import torch
from mmengine.hooks import CheckpointHook
from mmengine.logging import MessageHub

from mmmtl.engine.atomic_files import remove_stale_temp_files
from mmmtl.engine.hooks import AtomicCheckpointHook
from mmmtl.engine.process_state import this_host


class Crash(Exception):
    """A simulated kill."""


class FileOps:
    """Counts (and records) writes, renames and deletions; raises
    :class:`Crash` at operation number ``crash_at``."""

    def __init__(self, monkeypatch):
        self.crash_at = None
        self.count = 0
        self.events = []
        replace, remove = os.replace, os.remove

        def counted(kind, func):
            def wrapper(*args):
                self.step(kind, args[-1])
                return func(*args)
            return wrapper
        monkeypatch.setattr(os, 'replace', counted('replace', replace))
        monkeypatch.setattr(os, 'remove', counted('remove', remove))

    def step(self, kind: str, path: str) -> None:
        self.count += 1
        if self.count == self.crash_at:
            raise Crash(f'{kind} {path}')
        self.events.append((kind, osp.basename(path)))


class FakeRunner:
    """What CheckpointHook uses of a Runner; ``save_checkpoint`` writes
    half of the file before a crash point."""

    def __init__(self, work_dir, ops: FileOps, max_iters: int = 4):
        self.work_dir = str(work_dir)
        self.logger = logging.getLogger('test_atomic_checkpoint_hook')
        self.message_hub = MessageHub(f'ckpt-{uuid.uuid4().hex}')
        self.iter = 0
        self.epoch = 0
        self.max_iters = max_iters
        self.ops = ops

    def save_checkpoint(self, out_dir, filename, file_client_args=None,
                        save_optimizer=True, save_param_scheduler=True,
                        meta=None, by_epoch=True, backend_args=None):
        path = osp.join(out_dir, filename)
        checkpoint = dict(meta=dict(meta, iter=meta.get('iter',
                                                        self.iter + 1)),
                          message_hub=dict(self.message_hub.runtime_info))
        data = pickle_bytes(checkpoint)
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
            f.flush()
            self.ops.step('write', path)
            f.write(data[len(data) // 2:])


def pickle_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def train(hook, runner, iters, metrics=None):
    """Run ``after_train_iter`` for ``iters`` (0-based) and validation
    (``metrics``: {iteration after which: metrics})."""
    for it in iters:
        runner.iter = it
        hook.after_train_iter(runner, it)
        if metrics and it + 1 in metrics:
            runner.iter = it + 1
            hook.after_val_epoch(runner, metrics[it + 1])


def resumable(work_dir) -> int:
    """The iteration ``--resume`` continues from; fails if the checkpoint
    ``last_checkpoint`` names is missing or incomplete."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        path = f.read().strip()
    return torch.load(path, weights_only=False)['meta']['iter']


def crash_runs(hook_type, tmp_path, monkeypatch, **hook_args):
    """For each file operation of the second save: crash there; return the
    iteration a resume would continue from (or the error)."""
    results = {}
    for crash_at in range(1, 8):
        ops = FileOps(monkeypatch)
        work_dir = tmp_path / f'{hook_type.__name__}_{crash_at}'
        work_dir.mkdir()
        runner = FakeRunner(work_dir, ops)
        hook = hook_type(interval=2, by_epoch=False, **hook_args)
        hook.before_train(runner)
        train(hook, runner, [0, 1])
        ops.count, ops.crash_at = 0, crash_at
        try:
            train(hook, runner, [2, 3])
        except Crash:
            pass
        else:
            results['no crash'] = resumable(work_dir)
            break
        try:
            results[crash_at] = resumable(work_dir)
        except Exception as exc:  # noqa: BLE001 - the failure under test
            results[crash_at] = type(exc).__name__
    return results


def test_a_crash_at_any_file_operation_leaves_a_resumable_work_dir(
        tmp_path, monkeypatch):
    results = crash_runs(AtomicCheckpointHook, tmp_path, monkeypatch,
                         max_keep_ckpts=1)
    # write, rename iter_4, rename last_checkpoint, delete iter_2
    assert results == {1: 2, 2: 2, 3: 2, 4: 4, 'no crash': 4}


def test_mmengine_checkpoint_hook_is_not_kill_safe(tmp_path, monkeypatch):
    """The property above fails without the atomic hook (max_keep=1)."""
    results = crash_runs(CheckpointHook, tmp_path, monkeypatch,
                         max_keep_ckpts=1)
    # it deletes iter_2, then writes iter_4: killed while writing, the
    # work dir has no complete checkpoint
    assert results == {1: 2, 2: 'FileNotFoundError', 'no crash': 4}


def test_files_after_rotation(tmp_path, monkeypatch):
    ops = FileOps(monkeypatch)
    runner = FakeRunner(tmp_path, ops, max_iters=6)
    hook = AtomicCheckpointHook(interval=2, by_epoch=False, max_keep_ckpts=2)
    hook.before_train(runner)
    train(hook, runner, range(6))
    assert sorted(os.listdir(tmp_path)) == [
        'iter_4.pth', 'iter_6.pth', 'last_checkpoint']
    assert resumable(tmp_path) == 6
    assert runner.message_hub.get_info('keep_ckpt_ids') == [4, 6]
    # iter_2 is deleted only after iter_6 and last_checkpoint are in place
    assert ops.events[-3:] == [('replace', 'iter_6.pth'),
                               ('replace', 'last_checkpoint'),
                               ('remove', 'iter_2.pth')]


def test_previous_best_is_deleted_after_the_new_best(tmp_path, monkeypatch):
    ops = FileOps(monkeypatch)
    runner = FakeRunner(tmp_path, ops)
    hook = AtomicCheckpointHook(interval=2, by_epoch=False, max_keep_ckpts=1,
                                save_best='delta_m', rule='greater')
    hook.before_train(runner)
    train(hook, runner, [0, 1], metrics={2: dict(delta_m=1.0)})
    ops.events.clear()
    train(hook, runner, [2, 3], metrics={4: dict(delta_m=2.0)})
    assert [e for e in ops.events if e[0] != 'write'] == [
        ('replace', 'iter_4.pth'), ('replace', 'last_checkpoint'),
        ('remove', 'iter_2.pth'),
        ('replace', 'best_delta_m_iter_4.pth'),
        # the periodic checkpoint again, now recording the new best
        ('replace', 'iter_4.pth'), ('replace', 'last_checkpoint'),
        ('remove', 'best_delta_m_iter_2.pth')]
    assert sorted(os.listdir(tmp_path)) == [
        'best_delta_m_iter_4.pth', 'iter_4.pth', 'last_checkpoint']
    saved = torch.load(tmp_path / 'iter_4.pth', weights_only=False)
    assert saved['message_hub']['best_ckpt'] == str(
        tmp_path / 'best_delta_m_iter_4.pth')
    assert saved['message_hub']['best_score'] == 2.0


def test_a_worse_score_keeps_the_best(tmp_path, monkeypatch):
    ops = FileOps(monkeypatch)
    runner = FakeRunner(tmp_path, ops)
    hook = AtomicCheckpointHook(interval=2, by_epoch=False,
                                save_best='delta_m', rule='greater')
    hook.before_train(runner)
    train(hook, runner, range(4),
          metrics={2: dict(delta_m=3.0), 4: dict(delta_m=2.0)})
    assert (tmp_path / 'best_delta_m_iter_2.pth').is_file()
    assert not (tmp_path / 'best_delta_m_iter_4.pth').exists()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_temp_files_of_dead_writers_are_removed(tmp_path, monkeypatch):
    host = this_host()
    dead = tmp_path / f'.iter_4.pth.tmp-{host}-{dead_pid()}'
    mine = tmp_path / f'.iter_6.pth.tmp-{host}-{os.getpid()}'
    other_host = tmp_path / '.iter_8.pth.tmp-elsewhere-1'
    for path in (dead, mine, other_host):
        path.write_bytes(b'partial')
    runner = FakeRunner(tmp_path, FileOps(monkeypatch))
    AtomicCheckpointHook(interval=2, by_epoch=False).before_train(runner)
    assert not dead.exists()
    assert mine.exists() and other_host.exists()
    assert remove_stale_temp_files(str(tmp_path / 'missing')) == []


def test_remote_storage_is_refused(tmp_path, monkeypatch):
    runner = FakeRunner(tmp_path, FileOps(monkeypatch))
    hook = AtomicCheckpointHook(interval=2, by_epoch=False,
                                out_dir='http://example.com/ckpts')
    with pytest.raises(ValueError, match=r'http://example.com/ckpts uses '
                       r"HTTPBackend .*type='CheckpointHook' for other"):
        hook.before_train(runner)
