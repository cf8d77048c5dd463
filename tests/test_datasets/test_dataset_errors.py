"""Each dataset set-up error has its own accurate message: data root that
is a file, unreadable or misplaced split file, duplicate ids."""
import pytest
from dataset_fixtures import deny_reading, write_nyud, write_pascal

from mmmtl.datasets import (NYUDv2MTDataset, PascalContextMTDataset,
                            SyntheticMultiTaskDataset)


@pytest.fixture(autouse=True)
def _user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMMTL_CACHE_DIR', str(tmp_path / 'cache'))


@pytest.mark.parametrize('cls', [PascalContextMTDataset, NYUDv2MTDataset,
                                 SyntheticMultiTaskDataset])
def test_data_root_that_is_a_file(tmp_path, cls):
    root = tmp_path / 'data.tar'
    root.write_bytes(b'an archive, not unpacked')
    with pytest.raises(ValueError) as err:
        cls(data_root=str(root))
    assert str(err.value) == (f'{cls.__name__}: data root {str(root)!r} is '
                              'a file, not a folder; set data_root to the '
                              'dataset folder')
    assert root.read_bytes() == b'an archive, not unpacked'


def test_missing_data_root_keeps_its_message(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist; download'):
        PascalContextMTDataset(data_root=str(tmp_path / 'nowhere'))


def test_duplicate_ids_name_the_split_file_and_lines(tmp_path):
    root = tmp_path / 'NYUDv2'
    write_nyud(root)
    split = root / 'gt_sets' / 'train.txt'
    split.write_text('0001\n0002\n\n0001\n0002\n0001\n')
    with pytest.raises(ValueError) as err:
        NYUDv2MTDataset(data_root=str(root), split='train')
    assert str(err.value) == (
        f'NYUDv2MTDataset: split file {str(split)!r} lists 2 image id(s) '
        "more than once: '0001' (lines 1, 4, 6), '0002' (lines 2, 5); each "
        'image must appear once')


def test_unreadable_split_file(tmp_path, monkeypatch):
    root = tmp_path / 'PASCALContext'
    write_pascal(root)
    split = root / 'ImageSets' / 'Context' / 'train.txt'
    deny_reading(monkeypatch, split)
    with pytest.raises(ValueError) as err:
        PascalContextMTDataset(data_root=str(root), split='train')
    assert str(err.value) == (f'PascalContextMTDataset: split file '
                              f'{str(split)!r} cannot be read: Permission '
                              'denied')


def test_split_path_that_is_a_folder(tmp_path):
    root = tmp_path / 'NYUDv2'
    write_nyud(root)
    (root / 'gt_sets' / 'test.txt').mkdir()
    with pytest.raises(ValueError, match=r"split file '.*gt_sets/test.txt' "
                       'is a folder, not a file'):
        NYUDv2MTDataset(data_root=str(root), split='test')
