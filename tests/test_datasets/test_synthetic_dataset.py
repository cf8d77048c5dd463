"""Synthetic generator: determinism, consistency, cache-dir dataset."""
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from mmmtl.datasets import SyntheticMultiTaskDataset, decode_annotation
from mmmtl.datasets.synthetic import (generate_synthetic_dataset,
                                      synthetic_cache_root)
from mmmtl.datasets.synthetic.scene import SKY_CONTEXT_ID

PARAMS = dict(num_train=4, num_val=2, size=64)


@pytest.fixture(autouse=True)
def _user_cache(tmp_path, monkeypatch):
    """Keep the parts cache out of the home directory."""
    monkeypatch.setenv('MMMTL_CACHE_DIR', str(tmp_path / 'user_cache'))


def tree_bytes(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob('*')
            if p.is_file()}


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp('syn') / 'a'
    return generate_synthetic_dataset(str(root), seed=3, **PARAMS)


def test_deterministic_bytes(synthetic, tmp_path):
    again = generate_synthetic_dataset(str(tmp_path / 'b'), seed=3, **PARAMS)
    other = generate_synthetic_dataset(str(tmp_path / 'c'), seed=4, **PARAMS)
    first = tree_bytes(Path(synthetic))
    assert first == tree_bytes(Path(again))
    assert first != tree_bytes(Path(other))
    assert len(first) == 6 * 7 + 4
    with pytest.raises(FileExistsError):
        generate_synthetic_dataset(synthetic, **PARAMS)


def test_layout_is_pascal_context(synthetic):
    root = Path(synthetic)
    ids = (root / 'ImageSets/Context/train.txt').read_text().split()
    assert len(ids) == 4
    mat = scipy.io.loadmat(root / 'pascal-context/trainval' /
                           f'{ids[0]}.mat')
    assert mat['LabelMap'].shape == (64, 64)
    anno = scipy.io.loadmat(root / 'human_parts' / f'{ids[0]}.mat')['anno']
    for obj in anno[0][0][1].reshape(-1):
        assert obj[1][0][0] == 15
        names = [str(obj[3][0][i][0][0]) for i in range(obj[3].shape[1])]
        assert 'torso' in names


def test_tasks_are_consistent(synthetic):
    ds = SyntheticMultiTaskDataset(data_root=synthetic, split='train')
    assert ds.metainfo['tasks'][-1] == 'depth'
    assert ds.metainfo['num_classes']['semseg'] == 6
    persons = 0
    for idx in range(len(ds)):
        info = ds.get_data_info(idx)
        m = {t: decode_annotation(t, a) for t, a in info['ann_info'].items()}
        labels = scipy.io.loadmat(info['ann_info']['edges']['path'])[
            'LabelMap']
        sky = labels == SKY_CONTEXT_ID
        np.testing.assert_array_equal(m['saliency'], m['semseg'] > 0)
        assert np.all(m['depth'][~sky] > 0) and np.all(m['depth'][sky] == 0)
        norm = np.linalg.norm(m['normals'], axis=2)
        np.testing.assert_allclose(norm[~sky], 1.0, atol=1e-5)
        assert np.all(norm[sky] == 0)
        person = m['semseg'] == 5
        if person.any():
            persons += 1
            parts = m['human_parts']
            assert np.all((parts > 0) == person)
            assert set(np.unique(parts)) <= set(range(7))
        else:
            assert np.all(m['human_parts'] == 255)
        # edges lie on LabelMap class changes (4-neighbourhood)
        p = np.pad(labels, 1, mode='edge')
        change = ((p[1:-1, 1:-1] != p[:-2, 1:-1]) |
                  (p[1:-1, 1:-1] != p[2:, 1:-1]) |
                  (p[1:-1, 1:-1] != p[1:-1, :-2]) |
                  (p[1:-1, 1:-1] != p[1:-1, 2:]))
        assert m['edges'].any() and np.all(change[m['edges'] == 1])
    assert persons >= 1


def test_cache_dir_generation(tmp_path, monkeypatch):
    monkeypatch.setenv('MMMTL_CACHE_DIR', str(tmp_path / 'cache'))
    ds = SyntheticMultiTaskDataset(split='val', tasks=['semseg', 'depth'],
                                   **PARAMS)
    root = synthetic_cache_root(**PARAMS)
    assert ds.data_root == str(root)
    assert root.parent == tmp_path / 'cache' / 'synthetic'
    assert len(ds) == 2 and ds.metainfo['tasks'] == ('semseg', 'depth')
    stamp = (root / 'JPEGImages').stat().st_mtime_ns
    SyntheticMultiTaskDataset(split='train', **PARAMS)
    assert (root / 'JPEGImages').stat().st_mtime_ns == stamp
    assert [p.name for p in root.parent.iterdir()] == [root.name]
    with pytest.raises(FileNotFoundError, match='make_synthetic_dataset'):
        SyntheticMultiTaskDataset(auto_generate=False, seed=9, **PARAMS)
