"""WorkDirLock / WorkDirLockHook: one training per work dir; a live owner
refuses, a dead one (same host) is taken over, another host's never."""
import json
import logging
import os
import subprocess
import sys
import time

import pytest

from mmmtl.engine.hooks import WorkDirLock, WorkDirLockedError, WorkDirLockHook
from mmmtl.engine.process_state import pid_is_running, this_host


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, '-c',
                             'import time; time.sleep(60)'])
    yield proc.pid
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def write_lock(work_dir, pid, host=None) -> dict:
    owner = dict(pid=pid, host=host or this_host(),
                 started='2024-01-02 03:04:05', token='other')
    (work_dir / '.lock').write_text(json.dumps(owner))
    return owner


def read_lock(work_dir) -> dict:
    return json.loads((work_dir / '.lock').read_text())


def test_acquire_writes_owner_and_release_removes_it(tmp_path):
    lock = WorkDirLock(str(tmp_path / 'work'))
    assert lock.acquire() is None
    owner = read_lock(tmp_path / 'work')
    assert owner['pid'] == os.getpid() and owner['host'] == this_host()
    assert set(owner) == {'pid', 'host', 'started', 'token'}
    lock.release()
    assert not (tmp_path / 'work' / '.lock').exists()
    lock.release()  # twice is harmless


def test_live_owner_refuses_with_pid_host_and_lock_file(tmp_path, live_pid):
    write_lock(tmp_path, live_pid)
    with pytest.raises(WorkDirLockedError) as info:
        WorkDirLock(str(tmp_path)).acquire()
    assert str(info.value) == (
        f'work dir {tmp_path} is used by another training run: pid '
        f'{live_pid} on this host (started 2024-01-02 03:04:05) holds the '
        f'lock file {tmp_path}/.lock. Wait for it to finish or pass another '
        '--work-dir; delete the lock file only if that run is gone')
    assert read_lock(tmp_path)['pid'] == live_pid


def test_dead_owner_on_this_host_is_taken_over(tmp_path):
    stale = write_lock(tmp_path, dead_pid())
    lock = WorkDirLock(str(tmp_path))
    assert lock.acquire() == stale
    assert read_lock(tmp_path)['token'] == lock.owner['token']
    assert sorted(os.listdir(tmp_path)) == ['.lock']


def test_another_hosts_lock_is_never_taken_over(tmp_path):
    write_lock(tmp_path, dead_pid(), host='gpu-node-7')
    with pytest.raises(WorkDirLockedError,
                       match=r'pid \d+ on host gpu-node-7 \(started'):
        WorkDirLock(str(tmp_path)).acquire()


@pytest.mark.parametrize('text', ['', '{"pid": "12"}', '[1]'])
def test_unreadable_lock_is_refused(tmp_path, text):
    (tmp_path / '.lock').write_text(text)
    with pytest.raises(WorkDirLockedError, match=(
            f'the lock file {tmp_path}/.lock is unreadable or keeps '
            'changing; delete it if no run uses this work dir')):
        WorkDirLock(str(tmp_path)).acquire(attempts=2)


def test_release_keeps_a_lock_taken_over_by_another_run(tmp_path):
    lock = WorkDirLock(str(tmp_path))
    lock.acquire()
    write_lock(tmp_path, 12345)
    lock.release()
    assert read_lock(tmp_path)['token'] == 'other'


def test_takeover_puts_back_a_lock_that_replaced_the_stale_one(tmp_path):
    """Two runs found the same stale lock; the slower one must not delete
    the lock the faster one created meanwhile."""
    write_lock(tmp_path, 12345)
    stale_text = (tmp_path / '.lock').read_text()
    fresh = write_lock(tmp_path, os.getpid())
    fresh_text = (tmp_path / '.lock').read_text()
    assert not WorkDirLock(str(tmp_path))._remove_if_unchanged(stale_text)
    assert (tmp_path / '.lock').read_text() == fresh_text
    assert read_lock(tmp_path) == fresh
    assert sorted(os.listdir(tmp_path)) == ['.lock']


def test_pid_is_running(live_pid):
    assert pid_is_running(os.getpid()) and pid_is_running(live_pid)
    assert not pid_is_running(dead_pid())
    assert not pid_is_running(0)


def process_state(pid: int) -> str:
    with open(f'/proc/{pid}/stat') as f:
        return f.read().rsplit(')', 1)[1].split()[0]


def test_zombie_is_not_running():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    deadline = time.monotonic() + 60
    while process_state(proc.pid) != 'Z':  # exited, not yet reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not pid_is_running(proc.pid)
    proc.wait()


class FakeRunner:

    def __init__(self, work_dir):
        self.work_dir = str(work_dir)
        self.logger = logging.getLogger('test_work_dir_lock')


def test_hook_holds_the_lock_during_training(tmp_path, caplog):
    write_lock(tmp_path, dead_pid())
    runner, hook = FakeRunner(tmp_path), WorkDirLockHook()
    with caplog.at_level(logging.WARNING):
        hook.before_train(runner)
    assert f'Took over the stale lock {tmp_path}/.lock of pid' in caplog.text
    assert read_lock(tmp_path)['pid'] == os.getpid()
    hook.after_run(runner)
    assert not (tmp_path / '.lock').exists()


def test_hook_refuses_a_second_run(tmp_path, live_pid):
    write_lock(tmp_path, live_pid)
    hook = WorkDirLockHook()
    with pytest.raises(WorkDirLockedError, match=f'pid {live_pid} on this'):
        hook.before_train(FakeRunner(tmp_path))
    hook.after_run(FakeRunner(tmp_path))  # releases nothing
    assert read_lock(tmp_path)['pid'] == live_pid
