"""A full disk or a read-only work dir ends a run with one error line.

The message names the path and what to do (free space / a writable
--work-dir), the exit status is 2, a failed checkpoint save leaves no
temporary file, and what was saved before stays (issue 19).
"""
import errno
import logging
import os
import stat

import pytest
import torch
from mmengine.fileio import LocalBackend

import test_run_safety
from test_run_safety import assert_one_line_error, config, run_in_process

# the fixtures of test_run_safety: (data root, helpers dir), and the helpers
# importable by the configs
setup = test_run_safety.setup
helpers_importable = test_run_safety.helpers_importable

NO_SPACE = os.strerror(errno.ENOSPC)


def temp_files(work_dir):
    return sorted(p.name for p in work_dir.rglob('.*tmp-*'))


def test_disk_full_while_saving_a_checkpoint(setup, tmp_path, capsys,
                                             monkeypatch,
                                             helpers_importable):
    """iter_4.pth runs out of space half written: the error names it, the
    half-written temporary file is gone, iter_2.pth stays the one
    last_checkpoint names."""
    cfg = config(setup, tmp_path / 'cfg.py', max_iters=6, max_keep_ckpts=1)
    work_dir = tmp_path / 'work'
    put = LocalBackend.put

    def put_until_full(self, obj, filepath):
        if '.iter_4.pth.tmp-' not in str(filepath):
            return put(self, obj, filepath)
        with open(filepath, 'wb') as f:  # part of it, as a full disk does
            f.write(obj[:len(obj) // 2])
            f.flush()
            raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(LocalBackend, 'put', put_until_full)
    error = assert_one_line_error(run_in_process(
        'train', [str(cfg), '--work-dir', str(work_dir)], capsys))
    assert error == (
        f'error: cannot write {work_dir}/iter_4.pth: {NO_SPACE}; free space '
        'on that disk, or choose a --work-dir on a disk with room')
    assert temp_files(work_dir) == []
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']
    assert (work_dir / 'last_checkpoint').read_text() == \
        str(work_dir / 'iter_2.pth')
    torch.load(work_dir / 'iter_2.pth', weights_only=False)  # complete


def test_disk_full_while_writing_the_log(setup, tmp_path, capsys,
                                         monkeypatch,
                                         helpers_importable):
    """logging would print a traceback per record and train on."""
    cfg = config(setup, tmp_path / 'cfg.py')
    work_dir = tmp_path / 'work'
    flush = logging.FileHandler.flush

    def flush_until_full(self):
        if str(work_dir) in self.baseFilename:
            raise OSError(errno.ENOSPC, NO_SPACE)
        flush(self)

    monkeypatch.setattr(logging.FileHandler, 'flush', flush_until_full)
    stderr = run_in_process('train', [str(cfg), '--work-dir', str(work_dir)],
                            capsys)
    error = assert_one_line_error(stderr)
    assert 'Logging error' not in stderr
    log = next(work_dir.glob('*/*.log'))
    assert error == (f'error: cannot write the log file {log}: {NO_SPACE}; '
                     'free space on that disk, or choose a --work-dir on a '
                     'disk with room')


@pytest.fixture
def read_only_dir(tmp_path):
    folder = tmp_path / 'read_only'
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP
                 | stat.S_IROTH | stat.S_IXOTH)  # 0o555
    try:
        if os.access(folder, os.W_OK):
            pytest.skip('chmod 0o555 does not stop this user (root) from '
                        'writing')
        yield folder
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize('inside', [False, True],
                         ids=['work_dir_is_read_only', 'parent_is_read_only'])
def test_read_only_work_dir(setup, tmp_path, capsys, read_only_dir, inside,
                            helpers_importable):
    cfg = config(setup, tmp_path / 'cfg.py')
    work_dir = read_only_dir / 'work' if inside else read_only_dir
    error = assert_one_line_error(run_in_process(
        'train', [str(cfg), '--work-dir', str(work_dir)], capsys))
    assert error == (
        f'error: cannot write to the work dir {work_dir}: '
        f'{os.strerror(errno.EACCES)}; choose a writable --work-dir (or '
        'make that folder writable)')
    assert sorted(read_only_dir.iterdir()) == []


def test_only_write_failures_are_reported_as_such(tmp_path):
    """EACCES on a file outside the work dir (an unreadable data file) is
    left as it is; inside it, or a full disk anywhere, is a WriteError."""
    from types import SimpleNamespace

    from mmmtl.engine import MultiTaskRunner
    from mmmtl.engine.atomic_files import WriteError
    work_dir = str(tmp_path / 'work')
    runner = SimpleNamespace(_work_dir=work_dir, work_dir=work_dir)

    def raising(exc):
        with MultiTaskRunner._write_failures_explained(runner):
            raise exc

    denied = os.strerror(errno.EACCES)
    with pytest.raises(PermissionError):
        raising(PermissionError(errno.EACCES, denied, '/data/x.jpg'))
    with pytest.raises(WriteError, match=f'cannot write {work_dir}/a.json'):
        raising(PermissionError(errno.EACCES, denied, f'{work_dir}/a.json'))
    with pytest.raises(WriteError, match='cannot write /tmp/x: '):
        raising(OSError(errno.ENOSPC, NO_SPACE, '/tmp/x'))
    with pytest.raises(WriteError, match=f'a file in the work dir {work_dir}'):
        raising(OSError(errno.ENOSPC, NO_SPACE))
    with pytest.raises(FileNotFoundError):
        raising(FileNotFoundError(errno.ENOENT, 'gone', '/data/y.jpg'))
