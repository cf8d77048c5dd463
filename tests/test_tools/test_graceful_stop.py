"""SIGTERM / SIGINT during tools/train.py (slurm's scancel, Ctrl-C), and a
second run refused on a locked work dir.

A signal stops the run after the current iteration: exit status 128 +
signum, one log line naming the iteration and its checkpoint, a complete
``iter_<n>.pth`` that ``last_checkpoint`` names, the lock released; then
``--resume`` continues from it to the end. A second signal exits at once.
A run refused on a work dir that a live run holds leaves nothing there.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.engine.hooks import WorkDirLockedError, WorkDirLockHook
from mmmtl.engine.process_state import this_host
from repo_files import REPO
from test_train_test_tools import read_scalars, tiny_config

HELPERS = '''
"""Test-only hook for tests/test_tools/test_graceful_stop.py."""
import os
import time

from mmengine.hooks import Hook

from mmmtl.registry import HOOKS


@HOOKS.register_module()
class PauseAtIterHook(Hook):
    """After iteration ``at``: create ``reached``, then wait (<= 120 s)
    until ``release`` exists."""

    def __init__(self, at, reached, release):
        self.at, self.reached, self.release = at, reached, release

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 != self.at:
            return
        open(self.reached, 'w').close()
        deadline = time.monotonic() + 120
        while not os.path.exists(self.release) and \\
                time.monotonic() < deadline:
            time.sleep(0.02)
'''
MAX_ITERS = 6


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """(data root, helpers dir)."""
    base = tmp_path_factory.mktemp('graceful_stop')
    data_root = Path(generate_synthetic_dataset(
        str(base / 'synthetic'), num_train=4, num_val=2, size=32))
    helpers = base / 'helpers'
    helpers.mkdir()
    (helpers / 'graceful_stop_helpers.py').write_text(HELPERS)
    return data_root, helpers


class PausedRun:
    """tools/train.py in a subprocess that pauses after iteration ``at``
    (checkpoints every 2 iterations) until :meth:`release`."""

    def __init__(self, setup, tmp_path: Path, at: int, work_dir: Path,
                 name: str = 'run', epochs: int = 0) -> None:
        self.reached = tmp_path / f'{name}.reached'
        self.release_file = tmp_path / f'{name}.release'
        self.cfg = pause_config(setup, tmp_path / 'cfg.py', at,
                                self.reached, self.release_file, epochs)
        self.stdout = tmp_path / f'{name}.stdout'
        self.stderr = tmp_path / f'{name}.stderr'
        with open(self.stdout, 'w') as out, open(self.stderr, 'w') as err:
            self.proc = subprocess.Popen(
                train_cmd(self.cfg, work_dir), cwd=REPO,
                env=tool_env(setup), stdout=out, stderr=err)

    def wait_until_paused(self) -> None:
        deadline = time.monotonic() + 240
        while not self.reached.exists():
            assert self.proc.poll() is None, self.output()[-3000:]
            assert time.monotonic() < deadline, 'never reached the pause'
            time.sleep(0.02)

    def release(self) -> None:
        self.release_file.touch()

    def wait(self) -> int:
        return self.proc.wait(timeout=240)

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def pause_config(setup, path: Path, at: int, reached: Path,
                 release: Path, epochs: int = 0) -> Path:
    """``epochs``: an epoch-based loop of that many epochs, checkpoints
    every epoch."""
    tiny = tiny_config(path.with_name(f'{path.stem}_tiny.py'), setup[0],
                       max_iters=MAX_ITERS)
    custom_hooks = Config.fromfile(str(tiny)).to_dict()['custom_hooks']
    path.write_text(f"""
_base_ = ['{tiny}']
randomness = dict(seed=0)
custom_imports = dict(imports=['graceful_stop_helpers'],
                      allow_failed_imports=False)
custom_hooks = {custom_hooks!r} + [dict(
    type='PauseAtIterHook', at={at}, reached='{reached}',
    release='{release}')]
""")
    if epochs:
        with open(path, 'a') as f:
            f.write(f"""
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop',
                 max_epochs={epochs}, val_interval={epochs})
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1))
log_processor = dict(by_epoch=True)
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
""")
    return path


def tool_env(setup) -> dict:
    path = os.pathsep.join(filter(None, [str(setup[1]),
                                         os.environ.get('PYTHONPATH')]))
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=path)


def train_cmd(cfg: Path, work_dir: Path, *args) -> list:
    return [sys.executable, str(REPO / 'tools/train.py'), str(cfg),
            '--work-dir', str(work_dir), *args]


def work_dir_log(work_dir: Path) -> str:
    return ''.join(p.read_text() for p in sorted(work_dir.glob('*/*.log')))


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.mark.parametrize('signum,at', [(signal.SIGTERM, 3),
                                       (signal.SIGTERM, 2),
                                       (signal.SIGINT, 3)])
def test_signal_saves_the_iteration_and_resume_finishes(setup, tmp_path,
                                                        signum, at):
    """at=3: between the hook's checkpoints, so the stop saves iter_3;
    at=2: the checkpoint hook has just saved iter_2, which is not saved
    again."""
    work_dir = tmp_path / 'work'
    run = PausedRun(setup, tmp_path, at, work_dir)
    try:
        run.wait_until_paused()
        run.proc.send_signal(signum)
        time.sleep(0.2)  # the handler runs while the pause hook sleeps
        run.release()
        code = run.wait()
    finally:
        run.kill()
    output = run.output()
    assert code == 128 + signum, output[-3000:]
    assert 'Traceback' not in output
    checkpoint = work_dir / f'iter_{at}.pth'
    line = (f'stopped by {signal.Signals(signum).name} at iteration {at}; '
            f'checkpoint {checkpoint}; resume with --resume')
    assert line in output  # on the console
    log = work_dir_log(work_dir)
    assert log.count(line) == 1 and log.count('stopped by') == 1
    assert log.count(f'Saving checkpoint at {at} iterations') == 1
    assert [r['step'] for r in read_scalars(work_dir) if 'loss' in r] == \
        list(range(1, at + 1))  # the stopped iteration was logged
    state = load_checkpoint(checkpoint)
    assert state['meta']['iter'] == at
    assert {'state_dict', 'optimizer', 'param_schedulers', 'message_hub'} \
        <= set(state)
    assert (work_dir / 'last_checkpoint').read_text() == str(checkpoint)
    assert not (work_dir / '.lock').exists()
    assert not list(work_dir.glob('.*.tmp-*'))
    assert not (work_dir / f'iter_{at + 1}.pth').exists()

    resumed = subprocess.run(
        train_cmd(run.cfg, work_dir, '--resume'), cwd=REPO,
        env=tool_env(setup), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [r['step'] for r in read_scalars(work_dir) if 'loss' in r]
    assert steps == list(range(1, MAX_ITERS + 1))  # none lost or repeated
    assert f'Auto resumed from the latest checkpoint {checkpoint}' in \
        work_dir_log(work_dir)
    final = work_dir / f'iter_{MAX_ITERS}.pth'
    assert load_checkpoint(final)['meta']['iter'] == MAX_ITERS
    assert (work_dir / 'last_checkpoint').read_text() == str(final)
    assert not (work_dir / '.lock').exists()


def test_a_second_signal_exits_at_once(setup, tmp_path):
    work_dir = tmp_path / 'work'
    run = PausedRun(setup, tmp_path, 3, work_dir)
    try:
        run.wait_until_paused()
        run.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        run.proc.send_signal(signal.SIGTERM)
        code = run.wait()  # without release: the pause never ends itself
    finally:
        run.kill()
    output = run.output()
    assert code == 128 + signal.SIGTERM, output[-3000:]
    assert 'second SIGTERM: exiting now, without saving the current ' \
        'iteration' in output
    assert 'stopped by' not in output
    assert not (work_dir / 'iter_3.pth').exists()
    # the earlier checkpoint is intact and still the one to resume
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'iter_2.pth')
    assert load_checkpoint(work_dir / 'iter_2.pth')['meta']['iter'] == 2


def test_epoch_based_stop_keeps_the_epoch_checkpoints(setup, tmp_path):
    """Epoch-based (2 iterations an epoch): a stop in epoch 2 saves
    iter_3.pth recording 1 epoch done, next to the untouched epoch_1.pth;
    --resume runs epoch 2 again and finishes."""
    work_dir = tmp_path / 'work'
    run = PausedRun(setup, tmp_path, 3, work_dir, epochs=3)
    epoch_1 = work_dir / 'epoch_1.pth'
    try:
        run.wait_until_paused()
        saved = epoch_1.stat().st_mtime_ns
        run.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        run.release()
        code = run.wait()
    finally:
        run.kill()
    assert code == 143, run.output()[-3000:]
    checkpoint = work_dir / 'iter_3.pth'
    assert f'stopped by SIGTERM at iteration 3; checkpoint {checkpoint}; ' \
        'resume with --resume' in run.output()
    assert load_checkpoint(checkpoint)['meta']['epoch'] == 1
    assert load_checkpoint(checkpoint)['meta']['iter'] == 3
    assert epoch_1.stat().st_mtime_ns == saved
    assert (work_dir / 'last_checkpoint').read_text() == str(checkpoint)
    assert not (work_dir / '.lock').exists()
    resumed = subprocess.run(
        train_cmd(run.cfg, work_dir, '--resume'), cwd=REPO,
        env=tool_env(setup), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert load_checkpoint(work_dir / 'epoch_3.pth')['meta']['epoch'] == 3


def tree(path: Path) -> dict:
    """Every entry under ``path`` with its size and modification time."""
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(path.rglob('*'))}


def test_refused_second_run_leaves_nothing(setup, tmp_path):
    """A run pauses holding the work dir; a second run on it exits 2 with
    the refusal, and the work dir is exactly as before; the first run then
    finishes."""
    work_dir = tmp_path / 'work'
    first = PausedRun(setup, tmp_path, 1, work_dir, name='first')
    try:
        first.wait_until_paused()
        before = tree(work_dir)
        assert '.lock' in before
        second = subprocess.run(
            train_cmd(first.cfg, work_dir), cwd=REPO, env=tool_env(setup),
            capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr[-3000:]
        assert 'Traceback' not in second.stderr
        lines = second.stderr.strip().splitlines()
        assert lines[-1] == '(set MMMTL_DEBUG=1 for the full traceback)'
        assert lines[-2].startswith(
            f'error: work dir {work_dir} is used by another training run: '
            f'pid {first.proc.pid} on this host (started ')
        assert tree(work_dir) == before
        first.release()
        assert first.wait() == 0, first.output()[-3000:]
    finally:
        first.kill()
    assert len([p for p in work_dir.iterdir() if p.is_dir()]) == 1
    assert (work_dir / f'iter_{MAX_ITERS}.pth').is_file()
    assert not (work_dir / '.lock').exists()


class FakeRunner:

    def __init__(self, work_dir: Path, timestamp: str) -> None:
        import logging
        self.work_dir = str(work_dir)
        self.log_dir = str(work_dir / timestamp)
        os.makedirs(self.log_dir)
        (work_dir / timestamp / f'{timestamp}.log').write_text('started\n')
        self.logger = logging.getLogger('test_graceful_stop')


def lock_work_dir(work_dir: Path, log_dir=None) -> None:
    owner = dict(pid=os.getppid(), host=this_host(), started='earlier',
                 token='other')
    if log_dir is not None:
        owner['log_dir'] = str(log_dir)
    work_dir.mkdir(exist_ok=True)
    (work_dir / '.lock').write_text(json.dumps(owner))


@pytest.mark.parametrize('owner_log_dir', [None, '20240101_000000'])
def test_hook_refusal_removes_the_refused_runs_log_dir(tmp_path,
                                                       owner_log_dir):
    """The hook's own refusal (two runs started together both pass the
    tool's check): the refused run's <timestamp> dir goes."""
    lock_work_dir(tmp_path, owner_log_dir and tmp_path / owner_log_dir)
    runner = FakeRunner(tmp_path, '20240101_000001')
    with pytest.raises(WorkDirLockedError, match=f'pid {os.getppid()}'):
        WorkDirLockHook().before_train(runner)
    assert sorted(os.listdir(tmp_path)) == ['.lock']


def test_hook_refusal_keeps_a_log_dir_the_owner_shares(tmp_path):
    """Started in the same second, both runs log into one <timestamp>
    dir: the refused run must not delete the owner's log."""
    lock_work_dir(tmp_path, tmp_path / '20240101_000001')
    runner = FakeRunner(tmp_path, '20240101_000001')
    with pytest.raises(WorkDirLockedError):
        WorkDirLockHook().before_train(runner)
    assert (tmp_path / '20240101_000001' / '20240101_000001.log') \
        .read_text() == 'started\n'
