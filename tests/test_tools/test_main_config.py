"""The mission's commands on the top-level entry point
``configs/vmt_swin_t_pascal.py``:

    python tools/train.py configs/vmt_swin_t_pascal.py
    python tools/test.py configs/vmt_swin_t_pascal.py CKPT

Without data: one ``error:`` line naming the missing folder and
docs/en/dataset_prepare.md, exit 2, no traceback, no checkpoint. With a
PASCAL-Context tree (shrunk through ``--cfg-options`` only): it trains into
its own work dir, and test.py evaluates the checkpoint.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

from mmengine.config import Config

from repo_files import REPO, load_module

CONFIG = REPO / 'configs' / 'vmt_swin_t_pascal.py'
WORK_DIR = Path('work_dirs') / 'vmt_swin_t_pascal_main'


def run_tool(tool: str, cwd: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / 'tools' / f'{tool}.py'), str(CONFIG),
         *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def option_value(value) -> str:
    """``value`` as mmengine's DictAction reads it back."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(option_value(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    return str(value)


def changed_options(old, new, prefix: str = '') -> list:
    """``key=value`` for every leaf of ``new`` that differs from ``old``
    (lists of dicts by index, as --cfg-options addresses them)."""
    if isinstance(new, dict) and isinstance(old, dict):
        return [o for key in new for o in changed_options(
            old.get(key), new[key], f'{prefix}{key}.')]
    if (isinstance(new, list) and isinstance(old, list)
            and len(new) == len(old)
            and all(isinstance(v, dict) for v in new)):
        return [o for i, (a, b) in enumerate(zip(old, new))
                for o in changed_options(a, b, f'{prefix}{i}.')]
    if new == old:
        return []
    return [f'{prefix[:-1]}={option_value(new)}']


def shrink_options(data_root: Path, work_dir: Path) -> list:
    """The tiny-run changes of tests/test_configs/test_public_configs.py's
    ``shrink``, as --cfg-options (the work dir stays the config's)."""
    shrink = load_module('tests/test_configs/test_public_configs.py').shrink
    original = Config.fromfile(str(CONFIG))
    tiny, _ = shrink(Config.fromfile(str(CONFIG)),
                     {'PascalContextMTDataset': data_root}, work_dir)
    tiny.work_dir = original.work_dir
    return changed_options(original.to_dict(), tiny.to_dict())


def test_the_entry_point_is_the_method_config_with_its_own_work_dir():
    main = Config.fromfile(str(CONFIG)).to_dict()
    method = Config.fromfile(
        str(REPO / 'configs/vmt/vmt_swin_t_pascal.py')).to_dict()
    assert main.pop('work_dir') == 'work_dirs/vmt_swin_t_pascal_main'
    assert 'work_dir' not in method  # its default: work_dirs/<name>
    assert main == method


def test_without_data_one_clear_error_and_nothing_written(tmp_path):
    proc = run_tool('train', tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == '(set MMMTL_DEBUG=1 for the full traceback)'
    errors = [line for line in lines if line.startswith('error:')]
    assert errors == [lines[-2]]
    assert f"data root '{tmp_path}/data/PASCALContext' does not exist" \
        in errors[0]
    assert 'docs/en/dataset_prepare.md' in errors[0]
    assert not list((tmp_path / WORK_DIR).glob('*.pth'))


def test_trains_and_tests_with_a_data_root(tmp_path):
    fixtures = load_module('tests/test_datasets/dataset_fixtures.py')
    data_root = tmp_path / 'PASCALContext'
    fixtures.write_pascal(data_root)
    options = shrink_options(data_root, tmp_path / WORK_DIR)
    assert 'train_cfg.max_epochs=1' in options
    train = run_tool('train', tmp_path, '--cfg-options', *options)
    assert train.returncode == 0, train.stderr[-3000:]
    work_dir = tmp_path / WORK_DIR
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    assert (work_dir / 'last_checkpoint').read_text() == str(checkpoint)
    assert not (work_dir / '.lock').exists()
    assert not (tmp_path / 'work_dirs' / 'vmt_swin_t_pascal').exists()
    out = tmp_path / 'metrics.json'
    test = run_tool('test', tmp_path, str(checkpoint), '--out', str(out),
                    '--cfg-options', *options)
    assert test.returncode == 0, test.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert {k.split('/')[0] for k in metrics if '/' in k} == {
        'semseg', 'human_parts', 'saliency', 'normals'}
    assert math.isfinite(metrics['delta_m'])
