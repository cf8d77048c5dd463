"""NYUD-v2 MT: label shift, depth validity, normals, edges from fixtures."""
import numpy as np
import pytest
from dataset_fixtures import write_nyud

from mmmtl.datasets import NYUDv2MTDataset, decode_annotation


@pytest.fixture
def nyud(tmp_path):
    root = tmp_path / 'NYUDv2'
    return root, write_nyud(root)


def test_decoded_values(nyud):
    root, expected = nyud
    ds = NYUDv2MTDataset(data_root=str(root), split='train')
    assert len(ds) == 2
    assert ds.metainfo['num_classes'] == dict(semseg=40, edges=2)
    assert len(ds.metainfo['classes']['semseg']) == 40
    for idx in range(len(ds)):
        info = ds.get_data_info(idx)
        exp = expected[info['img_id']]
        maps = {t: decode_annotation(t, a)
                for t, a in info['ann_info'].items()}
        np.testing.assert_array_equal(maps['semseg'], exp['semseg'])
        assert maps['semseg'][exp['semseg'] == 255].size > 0
        np.testing.assert_array_equal(maps['depth'], exp['depth'])
        assert np.all(maps['depth'][0, :5] == 0)
        np.testing.assert_allclose(maps['normals'], exp['normals'],
                                   atol=1e-6)
        assert np.all(maps['normals'][1, 1] == 0)
        np.testing.assert_array_equal(maps['edges'], exp['edges'])
        assert maps['semseg'].dtype == np.uint8
        assert maps['depth'].dtype == np.float32


def test_invalid_depth_values_become_zero(tmp_path):
    path = tmp_path / 'd.npy'
    np.save(path, np.array([[1.5, 0.0], [-2.0, np.nan]], np.float32))
    out = decode_annotation('depth', dict(type='npy_depth', path=str(path)))
    np.testing.assert_array_equal(out, [[1.5, 0.0], [0.0, 0.0]])


def test_split_subset_and_missing_files(nyud, tmp_path):
    root, _ = nyud
    ds = NYUDv2MTDataset(data_root=str(root), split='val', tasks=['depth'])
    assert ds.get_data_info(0)['ann_info'] == dict(
        depth=dict(type='npy_depth', path=str(root / 'depth' / '0003.npy')))
    (root / 'normals' / '0001.npy').unlink()
    with pytest.raises(FileNotFoundError, match='normals/0001.npy'):
        NYUDv2MTDataset(data_root=str(root), split='train')
    with pytest.raises(FileNotFoundError, match='gt_sets/test.txt'):
        NYUDv2MTDataset(data_root=str(root), split='test')
    with pytest.raises(FileNotFoundError, match='NYUD'):
        NYUDv2MTDataset(data_root=str(tmp_path / 'missing'))


def test_base_config_pipeline(nyud):
    from mmengine.config import Config

    from mmmtl.registry import DATASETS
    root, _ = nyud
    cfg = Config.fromfile('configs/_base_/datasets/nyud_mt.py')
    cfg.train_dataloader.dataset.data_root = str(root)
    sample = DATASETS.build(cfg.train_dataloader.dataset)[0]
    gt = sample['data_samples'].gt_maps
    assert tuple(gt.depth.shape) == (1, 448, 448)
    assert tuple(gt.normals.shape) == (3, 448, 448)
