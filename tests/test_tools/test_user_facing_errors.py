"""Errors that used to end in a traceback are one line naming the file
(issue 19): a truncated training image, an unsafe checkpoint given to
swin2mmmtl.py, and the unsafe-load hint names the tool that refused."""
import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from repo_files import REPO
from test_run_safety import assert_one_line_error, run_in_process
from test_train_test_tools import tiny_config

CHECK_HINT = ('run tools/misc/check_dataset.py CONFIG to list every file of '
              'the split that training would stop on')


def run_tool(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / tool), *args], cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True,
        text=True, timeout=300)


@pytest.mark.parametrize('workers', [0, 2])
def test_truncated_training_image_is_one_error_naming_it(tmp_path, capsys,
                                                         workers):
    data_root = Path(generate_synthetic_dataset(
        str(tmp_path / 'synthetic'), num_train=4, num_val=2, size=32))
    image = sorted((data_root / 'JPEGImages').glob('*.jpg'))[1]
    truncated = image.read_bytes()[:300]
    image.write_bytes(truncated)
    cfg = tiny_config(tmp_path / 'cfg.py', data_root)
    error = assert_one_line_error(run_in_process('train', [
        str(cfg), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.num_workers={workers}'], capsys))
    assert error == ('error: cannot decode image file (truncated, corrupted '
                     f'or not an image): {image}; {CHECK_HINT}')
    assert image.read_bytes() == truncated  # the data is left as it was


def unsafe_checkpoint(path: Path) -> Path:
    """A checkpoint that pickles a type outside the allow-list."""
    torch.save({'state_dict': {'w': torch.zeros(1)},
                'saved': datetime.date(2024, 1, 1)}, path)
    return path


def test_swin2mmmtl_refuses_an_unsafe_file_in_one_line(tmp_path):
    src = unsafe_checkpoint(tmp_path / 'unsafe.pth')
    dst = tmp_path / 'out.pth'
    proc = run_tool('tools/model_converters/swin2mmmtl.py', str(src),
                    str(dst))
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = assert_one_line_error(proc.stderr)
    assert error == (
        f'error: refused to load checkpoint {src}: it holds datetime.date, '
        'which is not a type mmmtl/mmengine checkpoints hold and could run '
        'code when loaded; pass --unsafe-load to '
        'tools/model_converters/swin2mmmtl.py only if you trust the file: '
        'that unpickles it fully and runs code from it.')
    assert not dst.exists()
    # its own opt-in then reads the file (which is no Swin state dict)
    proc = run_tool('tools/model_converters/swin2mmmtl.py', str(src),
                    str(dst), '--unsafe-load')
    assert proc.returncode == 2
    assert assert_one_line_error(proc.stderr).startswith(
        'error: not a Swin Transformer state dict')


def test_unsafe_load_hint_names_infer_py(tmp_path):
    data_root = Path(generate_synthetic_dataset(
        str(tmp_path / 'synthetic'), num_train=2, num_val=2, size=32))
    cfg = tiny_config(tmp_path / 'cfg.py', data_root)
    src = unsafe_checkpoint(tmp_path / 'unsafe.pth')
    out_dir = tmp_path / 'out'
    proc = run_tool('tools/infer.py', str(cfg), str(src),
                    str(data_root / 'JPEGImages'), '--out-dir', str(out_dir))
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = assert_one_line_error(proc.stderr)
    assert error.endswith(
        'could run code when loaded; pass --unsafe-load to tools/infer.py '
        'only if you trust the file: that unpickles it fully and runs code '
        'from it.')
    assert 'tools/train.py' not in error
