"""check_dataset finds planted defects; browse_dataset writes PNGs;
make_synthetic_dataset writes the dataset."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from repo_files import REPO, load_module

SYNTHETIC_CFG = str(REPO / 'configs/_base_/datasets/synthetic_mt.py')


@pytest.fixture(autouse=True)
def _user_cache(tmp_path, monkeypatch):
    """Keep the parts cache out of the home directory."""
    monkeypatch.setenv('MMMTL_CACHE_DIR', str(tmp_path / 'user_cache'))


def load_tool(name: str):
    return load_module(f'tools/misc/{name}.py')


@pytest.fixture(scope='module')
def clean_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('tools') / 'syn'
    return Path(generate_synthetic_dataset(str(root), num_train=5, num_val=2,
                                           size=48))


def options(root: Path, split: str = 'train') -> list:
    return ['--split', split, '--cfg-options',
            f'{split}_dataloader.dataset.data_root={root}']


def test_check_dataset_clean(clean_root, capsys):
    assert load_tool('check_dataset').main([SYNTHETIC_CFG] +
                                           options(clean_root)) == 0
    out = capsys.readouterr().out
    assert 'OK' in out and 'depth        annotated in 5/5' in out


def test_check_dataset_reports_every_defect(clean_root, tmp_path, capsys,
                                            monkeypatch):
    monkeypatch.setenv('MMMTL_CACHE_DIR', str(tmp_path / 'cache'))
    root = tmp_path / 'broken'
    shutil.copytree(clean_root, root)
    ids = (root / 'ImageSets/Context/train.txt').read_text().split()
    missing = root / 'sal_distill' / f'{ids[0]}.png'
    missing.unlink()
    corrupt = root / 'JPEGImages' / f'{ids[1]}.jpg'
    corrupt.write_bytes(b'garbage')
    out_of_range = root / 'semseg/pascal-context' / f'{ids[2]}.png'
    cv2.imwrite(str(out_of_range), np.full((48, 48), 9, np.uint8))
    mismatch = root / 'depth' / f'{ids[3]}.npy'
    np.save(mismatch, np.ones((10, 12), np.float32))
    no_fields = root / 'human_parts' / f'{ids[4]}.mat'
    scipy.io.savemat(str(no_fields), dict(wrong=np.zeros(2)))
    code = load_tool('check_dataset').main([SYNTHETIC_CFG] + options(root))
    out = capsys.readouterr().out
    assert code == 1
    assert f'missing file: {missing}' in out
    assert f'unreadable file: {corrupt}' in out
    assert f'label values out of range: {out_of_range}' in out
    assert f'shape mismatch: {mismatch}' in out
    assert f'unreadable file: {no_fields}' in out and "'anno'" in out
    assert 'FAILED: 5 problem(s)' in out


def test_check_dataset_missing_root(tmp_path, capsys):
    code = load_tool('check_dataset').main(
        [SYNTHETIC_CFG] + options(tmp_path / 'none', 'val') +
        ['val_dataloader.dataset.auto_generate=False'])
    assert code == 1
    assert 'none' in capsys.readouterr().out


def test_browse_dataset_writes_pngs(clean_root, tmp_path):
    out_dir = tmp_path / 'browse'
    load_tool('browse_dataset').main([SYNTHETIC_CFG, '--out-dir',
                                      str(out_dir), '--num', '2'] +
                                     options(clean_root))
    files = sorted(out_dir.glob('*.png'))
    assert len(files) == 2
    grid = cv2.imread(str(files[0]))
    assert grid.shape[1] > 7 * 48 and grid.shape[0] > 48


def test_make_synthetic_dataset_tool(tmp_path):
    out = tmp_path / 'made'
    tool = load_tool('make_synthetic_dataset')
    assert tool.main(['--out', str(out), '--num-train', '2', '--num-val',
                      '1', '--size', '32', '--seed', '1']) == 0
    assert len(list((out / 'JPEGImages').glob('*.jpg'))) == 3
    assert tool.main(['--out', str(out)]) == 0
