"""check_dataset finds planted defects; browse_dataset writes PNGs;
make_synthetic_dataset writes the dataset."""
import os
import shutil
import time
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


FIXTURES = load_module('tests/test_datasets/dataset_fixtures.py')


@pytest.fixture
def broken_root(clean_root, tmp_path):
    root = tmp_path / 'broken'
    shutil.copytree(clean_root, root)
    ids = (root / 'ImageSets/Context/train.txt').read_text().split()
    return root, ids


def training_failures(root: Path) -> set:
    """Indices of the train samples the config's training pipeline fails
    to load (the checker must report exactly these)."""
    from mmengine.config import Config

    from mmmtl.registry import DATASETS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(SYNTHETIC_CFG)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset,
                                  data_root=str(root)))
    failures = set()
    for idx in range(len(dataset)):
        try:
            dataset[idx]
        except Exception:  # any failure stops training
            failures.add(idx)
    return failures


def test_checker_reports_exactly_what_training_cannot_read(
        broken_root, capsys, monkeypatch):
    root, ids = broken_root
    grey_normals = root / 'normals_distill' / f'{ids[0]}.png'
    cv2.imwrite(str(grey_normals), np.full((48, 48), 128, np.uint8))
    rgb_depth = root / 'depth' / f'{ids[1]}.npy'
    np.save(rgb_depth, np.ones((48, 48, 3), np.float32))
    colour_saliency = root / 'sal_distill' / f'{ids[2]}.png'
    cv2.imwrite(str(colour_saliency),
                np.dstack([np.zeros((48, 48), np.uint8)] * 2 +
                          [np.full((48, 48), 255, np.uint8)]))
    locked_image = root / 'JPEGImages' / f'{ids[3]}.jpg'
    locked_mat = root / 'pascal-context/trainval' / f'{ids[4]}.mat'
    FIXTURES.deny_reading(monkeypatch, locked_image)
    FIXTURES.deny_reading(monkeypatch, locked_mat)
    code = load_tool('check_dataset').main([SYNTHETIC_CFG] + options(root))
    out = capsys.readouterr().out
    assert code == 1
    for path in (grey_normals, rgb_depth, colour_saliency):
        assert f'wrong number of channels: {path}' in out
    assert "got shape (48, 48) with differing" not in out
    assert (f'unreadable file: {locked_image} (cannot read the image: '
            'Permission denied)') in out
    for task in ('normals', 'edges'):  # both read the LabelMap
        assert (f'unreadable file: {locked_mat} ({task}: cannot read file '
                f'{locked_mat}: Permission denied)') in out
    assert 'corrupted' not in out and 'FAILED: 6 problem(s)' in out
    assert training_failures(root) == {0, 1, 2, 3, 4}


def test_clean_split_loads_completely_in_training(clean_root):
    assert training_failures(clean_root) == set()


def test_checker_sees_a_changed_parts_file_at_once(broken_root, capsys,
                                                   monkeypatch):
    root, ids = broken_root
    later = time.time_ns() + 10**10  # the files have settled by then
    monkeypatch.setattr('mmmtl.datasets.cache.time_ns', lambda: later)
    tool = load_tool('check_dataset')
    assert tool.main([SYNTHETIC_CFG] + options(root)) == 0
    assert 'human_parts  annotated in 4/5' in capsys.readouterr().out
    target = root / 'human_parts' / f'{ids[2]}.mat'
    stat = target.stat()
    shutil.copyfile(root / 'human_parts' / f'{ids[0]}.mat', target)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tool.main([SYNTHETIC_CFG] + options(root)) == 0
    assert 'human_parts  annotated in 5/5' in capsys.readouterr().out


def test_checker_data_root_that_is_a_file(tmp_path, capsys):
    root = tmp_path / 'syn.tar'
    root.write_bytes(b'archive')
    code = load_tool('check_dataset').main([SYNTHETIC_CFG] + options(root))
    out = capsys.readouterr().out
    assert code == 1
    assert (f'ERROR: cannot build the dataset: SyntheticMultiTaskDataset: '
            f'data root {str(root)!r} is a file, not a folder') in out


def test_checker_duplicate_ids(broken_root, capsys):
    root, ids = broken_root
    split = root / 'ImageSets/Context/train.txt'
    split.write_text('\n'.join(ids + ids[:1]) + '\n')
    code = load_tool('check_dataset').main([SYNTHETIC_CFG] + options(root))
    out = capsys.readouterr().out
    assert code == 1
    assert (f'split file {str(split)!r} lists 1 image id(s) more than once: '
            f"'{ids[0]}' (lines 1, 6)") in out


def test_checker_unreadable_split_file(broken_root, capsys, monkeypatch):
    root, _ = broken_root
    split = root / 'ImageSets/Context/train.txt'
    FIXTURES.deny_reading(monkeypatch, split)
    code = load_tool('check_dataset').main([SYNTHETIC_CFG] + options(root))
    out = capsys.readouterr().out
    assert code == 1
    assert (f'split file {str(split)!r} cannot be read: Permission '
            'denied') in out


def test_checker_task_without_any_annotated_pixel(broken_root, capsys):
    root, ids = broken_root
    for img_id in ids:
        np.save(root / 'depth' / f'{img_id}.npy',
                np.zeros((48, 48), np.float32))
    code = load_tool('check_dataset').main([SYNTHETIC_CFG] + options(root))
    out = capsys.readouterr().out
    assert code == 1
    assert 'depth        annotated in 0/5' in out
    assert 'depth: every pixel of all 5 images is ignored' in out


@pytest.mark.parametrize('option,message', [
    ('train_dataloader.dataset.data_rot=x',
     "--cfg-options key 'train_dataloader.dataset.data_rot': "
     "'train_dataloader.dataset' has no key 'data_rot'; did you mean "
     "'train_dataloader.dataset.data_root'?"),
    ('train_dataloadr.batch_size=2',
     "--cfg-options key 'train_dataloadr.batch_size': 'train_dataloadr' is "
     'neither a top-level key of'),
])
def test_checker_unknown_cfg_option_key(clean_root, capsys, option, message):
    with pytest.raises(SystemExit) as exit_info:
        load_tool('check_dataset').main([SYNTHETIC_CFG] + options(clean_root)
                                        + [option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {message}')
