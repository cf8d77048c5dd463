"""tools/train.py and tools/test.py do not lose or corrupt a work dir.

Divergence (lr=1e6, a NaN loss weight, NaN weights) stops with exit code 2
and one line naming the task/iteration and the last finite checkpoint, which
stays the latest (and is not offered for --resume when its weights are
blowing up already); NaN logits are not scored; a run SIGKILLed while writing a
checkpoint (max_keep_ckpts=1) resumes; a second run on a live run's work dir
is refused.
"""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.engine.hooks.non_finite_hook import largest_weight
from mmmtl.registry import MODELS
from repo_files import REPO, load_module
from test_train_test_tools import tiny_config

# Test-only hooks, imported by the configs through custom_imports (also in
# the tools' subprocesses).
HELPERS = '''
"""Test-only hooks for tests/test_tools/test_run_safety.py."""
import os
import time

import torch
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook

from mmmtl.registry import HOOKS


@HOOKS.register_module()
class BreakTrainingHook(Hook):
    """At iteration ``at``: NaN loss weight of ``task`` before the forward
    (``what='loss_weight'``), or inf in a weight of its head after the
    update (``what='weights'``)."""

    priority = 'HIGHEST'

    def __init__(self, at, what, task='depth'):
        self.at, self.what, self.task = at, what, task

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.what == 'loss_weight' and runner.iter + 1 == self.at:
            runner.model.loss_weights[self.task] = float('nan')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.what == 'weights' and runner.iter + 1 == self.at:
            with torch.no_grad():
                runner.model.heads[self.task].reduce[0].conv.weight[0] = \\
                    float('inf')


@HOOKS.register_module()
class HoldHook(Hook):
    """After an iteration, wait until ``release_file`` exists (<= 120 s)."""

    def __init__(self, release_file):
        self.release_file = release_file

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        deadline = time.monotonic() + 120
        while (not os.path.exists(self.release_file)
               and time.monotonic() < deadline):
            time.sleep(0.05)


SLOW = os.environ.get('SLOW_WRITE_PREFIX')
_put = LocalBackend.put


def _slow_put(self, obj, filepath):
    """Write files named SLOW* in 32 KiB pieces, 50 ms apart."""
    if not os.path.basename(filepath).startswith(SLOW):
        return _put(self, obj, filepath)
    with open(filepath, 'wb') as f:
        for start in range(0, len(obj), 32768):
            f.write(obj[start:start + 32768])
            f.flush()
            time.sleep(0.05)


if SLOW:
    LocalBackend.put = _slow_put
'''


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """(data root, helpers dir)."""
    base = tmp_path_factory.mktemp('run_safety')
    data_root = Path(generate_synthetic_dataset(
        str(base / 'synthetic'), num_train=4, num_val=2, size=32))
    helpers = base / 'helpers'
    helpers.mkdir()
    (helpers / 'run_safety_helpers.py').write_text(HELPERS)
    return data_root, helpers


@pytest.fixture
def helpers_importable(setup, monkeypatch):
    monkeypatch.syspath_prepend(str(setup[1]))


def config(setup, path: Path, max_iters: int = 4, hooks: str = '',
           max_keep_ckpts: int = 3) -> Path:
    """The tiny VMT config of test_train_test_tools, checkpoints every 2
    iterations, seeded, with the test hooks importable and ``hooks`` added
    to the custom hooks."""
    tiny = tiny_config(path.with_name(f'{path.stem}_tiny.py'), setup[0],
                       max_iters=max_iters)
    custom_hooks = Config.fromfile(str(tiny)).to_dict()['custom_hooks']
    path.write_text(f"""
_base_ = ['{tiny}']
default_hooks = dict(checkpoint=dict(interval=2,
                                     max_keep_ckpts={max_keep_ckpts}))
randomness = dict(seed=0)
custom_imports = dict(imports=['run_safety_helpers'],
                      allow_failed_imports=False)
custom_hooks = {custom_hooks!r} + [{hooks}]
""")
    return path


def tool_env(setup, **extra) -> dict:
    path = os.pathsep.join(filter(None, [str(setup[1]),
                                         os.environ.get('PYTHONPATH')]))
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=path, **extra)


def train_cmd(cfg: Path, work_dir: Path, *args) -> list:
    return [sys.executable, str(REPO / 'tools/train.py'), str(cfg),
            '--work-dir', str(work_dir), *args]


def run_in_process(tool: str, argv: list, capsys) -> str:
    """Run tools/<tool>.py's main, expect exit code 2; return stderr."""
    with pytest.raises(SystemExit) as info:
        load_module(f'tools/{tool}.py').main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def assert_one_line_error(stderr: str) -> str:
    assert 'Traceback' not in stderr
    lines = stderr.strip().splitlines()
    assert lines[-1] == '(set MMMTL_DEBUG=1 for the full traceback)'
    assert lines[-2].startswith('error: ')
    return lines[-2]


def checkpoint_is_finite(path: Path) -> bool:
    state = torch.load(path, map_location='cpu', weights_only=False)
    return all(torch.isfinite(t).all() for t in state['state_dict'].values()
               if t.is_floating_point())


def test_huge_learning_rate_stops_at_the_first_nan_loss(setup, tmp_path):
    cfg = config(setup, tmp_path / 'cfg.py', max_iters=8)
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        train_cmd(cfg, work_dir, '--cfg-options',
                  'optim_wrapper.optimizer.lr=1e6'),
        cwd=REPO, env=tool_env(setup), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    error = assert_one_line_error(proc.stderr)
    match = re.match(r"error: iteration (\d+): non-finite loss for task "
                     r"'semseg' \(loss_semseg=nan, loss_weight=1\)", error)
    assert match, error
    stopped = int(match[1])
    assert stopped > 2  # after a first, finite checkpoint
    last = work_dir / f'iter_{(stopped - 1) // 2 * 2}.pth'
    # finite, but lr=1e6 has blown its weights up already: not offered as
    # a fresh start for --resume
    largest = largest_weight(str(last))
    assert largest > 1e4
    assert f'last finite checkpoint {last.name} has weights up to ' \
        f'{largest:.2g} (diverging already); resume from an earlier one ' \
        'or lower the learning rate' in error
    assert 'continue from it with --resume' not in error
    assert 'try a lower learning rate (optim_wrapper.optimizer.lr)' in error
    assert (work_dir / 'last_checkpoint').read_text() == str(last)
    assert checkpoint_is_finite(last)
    saved = sorted(int(p.stem[len('iter_'):])
                   for p in work_dir.glob('iter_*.pth'))
    assert saved[-1] == int(last.stem[len('iter_'):])  # none after
    assert not (work_dir / '.lock').exists()  # released at exit


def test_nan_loss_weight_names_the_task_and_keeps_the_checkpoint(
        setup, tmp_path, capsys, helpers_importable):
    cfg = config(setup, tmp_path / 'cfg.py', max_keep_ckpts=1, hooks=(
        "dict(type='BreakTrainingHook', at=3, what='loss_weight')"))
    work_dir = tmp_path / 'work'
    error = assert_one_line_error(run_in_process(
        'train', [str(cfg), '--work-dir', str(work_dir)], capsys))
    assert error.startswith(
        "error: iteration 3: non-finite loss for task 'depth' "
        '(loss_depth=nan, loss_weight=nan); training stopped before saving '
        'these weights; learning rate now ')
    assert "'semseg'" not in error
    assert f'last finite checkpoint: {work_dir}/iter_2.pth' in error
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']


def test_non_finite_weights_are_never_saved(setup, tmp_path, capsys,
                                            helpers_importable):
    cfg = config(setup, tmp_path / 'cfg.py', max_keep_ckpts=1, hooks=(
        "dict(type='BreakTrainingHook', at=4, what='weights')"))
    work_dir = tmp_path / 'work'
    error = assert_one_line_error(run_in_process(
        'train', [str(cfg), '--work-dir', str(work_dir)], capsys))
    assert error.startswith(
        'error: iteration 4: refusing to save a checkpoint with NaN/inf '
        'values in 1 tensor (state_dict.heads.depth.reduce.0.conv.weight); '
        'the weights diverged; learning rate now ')
    assert f'last finite checkpoint: {work_dir}/iter_2.pth' in error
    # max_keep_ckpts=1 and still the old one: it goes only after a new one
    # (.lock: this process's, released at exit)
    assert sorted(p.name for p in work_dir.iterdir() if p.is_file()) == [
        '.lock', 'cfg.py', 'iter_2.pth', 'last_checkpoint',
        'param_report.json']
    assert checkpoint_is_finite(work_dir / 'iter_2.pth')


def test_nan_logits_are_not_scored(setup, tmp_path, capsys,
                                   helpers_importable):
    cfg = config(setup, tmp_path / 'cfg.py')
    model = MODELS.build(Config.fromfile(str(cfg)).model)
    state_dict = {name: value.fill_(float('nan'))
                  if value.is_floating_point() else value
                  for name, value in model.state_dict().items()}
    torch.save(dict(state_dict=state_dict, meta=dict()), tmp_path / 'nan.pth')
    error = assert_one_line_error(run_in_process(
        'test', [str(cfg), str(tmp_path / 'nan.pth'), '--work-dir',
                 str(tmp_path / 'test')], capsys))
    assert re.match(r"error: task '\w+': the model gave non-finite logits",
                    error), error


def test_kill_while_saving_then_resume(setup, tmp_path, helpers_importable):
    """SIGKILL while iter_4.pth is half written (max_keep_ckpts=1): the
    work dir still resumes from iter_2, and the resumed run cleans up."""
    cfg = config(setup, tmp_path / 'cfg.py', max_iters=6, max_keep_ckpts=1)
    work_dir = tmp_path / 'work'
    proc = subprocess.Popen(
        train_cmd(cfg, work_dir), cwd=REPO,
        env=tool_env(setup, SLOW_WRITE_PREFIX='.iter_4.pth.tmp-'),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        partial = wait_for_partial_file(work_dir, '.iter_4.pth.tmp-*', proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 0 < partial.stat().st_size < (work_dir / 'iter_2.pth').stat() \
        .st_size
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'iter_2.pth')
    assert not (work_dir / 'iter_4.pth').exists()
    assert (work_dir / '.lock').exists()  # a SIGKILLed run cannot release

    runner = load_module('tools/train.py').main(
        [str(cfg), '--work-dir', str(work_dir), '--resume'])
    assert runner.iter == 6
    assert sorted(p.name for p in work_dir.iterdir() if p.is_file()) == [
        'cfg.py', 'iter_6.pth', 'last_checkpoint', 'param_report.json']
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'iter_6.pth')
    log = ''.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert f'Auto resumed from the latest checkpoint {work_dir}/iter_2' in log
    assert f'Took over the stale lock {work_dir}/.lock of pid {proc.pid}' \
        in log
    assert f'Removed {partial}, a file that a killed run' in log


def wait_for_partial_file(directory: Path, pattern: str,
                          proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, 'training ended before the save'
        for path in directory.glob(pattern):
            if path.is_file() and path.stat().st_size > 0:
                return path
        time.sleep(0.005)
    raise AssertionError(f'no {pattern} in {directory}')


def test_second_run_on_a_live_work_dir_is_refused(setup, tmp_path):
    """Two runs started together: one trains, the other exits 2 naming the
    owner's pid, while the owner waits; then the owner finishes."""
    release = tmp_path / 'release'
    cfg = config(setup, tmp_path / 'cfg.py', max_iters=2, hooks=(
        f"dict(type='HoldHook', release_file='{release}')"))
    work_dir = tmp_path / 'work'
    logs = [tmp_path / f'stderr_{i}.txt' for i in range(2)]
    procs = []
    for log in logs:
        with open(log, 'w') as stderr:
            procs.append(subprocess.Popen(
                train_cmd(cfg, work_dir), cwd=REPO, env=tool_env(setup),
                stdout=subprocess.DEVNULL, stderr=stderr))
    try:
        deadline = time.monotonic() + 240
        while all(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, 'neither run stopped'
            time.sleep(0.05)
        loser = next(p for p in procs if p.poll() is not None)
        owner = next(p for p in procs if p is not loser)
        assert owner.poll() is None  # still holding the work dir
        error = assert_one_line_error(
            logs[procs.index(loser)].read_text())
        assert loser.returncode == 2
        assert error.startswith(
            f'error: work dir {work_dir} is used by another training run: '
            f'pid {owner.pid} on this host (started ')
        assert f'holds the lock file {work_dir}/.lock' in error
        release.touch()
        assert owner.wait(timeout=240) == 0, \
            logs[procs.index(owner)].read_text()[-3000:]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert (work_dir / 'iter_2.pth').is_file()
    assert not (work_dir / '.lock').exists()


def test_refused_run_keeps_the_live_runs_config_copy(setup, tmp_path,
                                                     helpers_importable):
    """A runner built on a work dir that a live training holds copies no
    config into it (the copy stays the live run's) and refuses to train."""
    import json

    from mmmtl.engine import build_runner
    from mmmtl.engine.process_state import this_host
    from mmmtl.engine.hooks.work_dir_lock_hook import WorkDirLockedError
    cfg_path = config(setup, tmp_path / 'cfg.py')
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    copy = work_dir / 'cfg.py'
    copy.write_text("# the live run's config\n")
    (work_dir / '.lock').write_text(json.dumps(dict(
        pid=os.getppid(), host=this_host(), started='earlier', token='x')))
    cfg = Config.fromfile(str(cfg_path))
    cfg.work_dir = str(work_dir)
    runner = build_runner(cfg)
    assert copy.read_text() == "# the live run's config\n"
    with pytest.raises(WorkDirLockedError, match=f'pid {os.getppid()}'):
        runner.train()
    assert (work_dir / '.lock').exists()
