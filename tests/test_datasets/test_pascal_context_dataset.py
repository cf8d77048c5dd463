"""PASCAL-Context MT: decoding of every task from real-format fixtures."""
import json
import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from dataset_fixtures import H, W, list_files, write_pascal
from skimage.morphology import thin

from mmmtl.datasets import (AnnotationError, PascalContextMTDataset,
                            decode_annotation)
from mmmtl.datasets.formats import pascal as pascal_formats

VALID_IDS = json.loads((Path(pascal_formats.__file__).parents[1] / 'data' /
                        'pascal_context_normals_valid_classes.json'
                        ).read_text())['ids']


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / 'cache'
    monkeypatch.setenv('MMMTL_CACHE_DIR', str(path))
    return path


@pytest.fixture
def pascal(tmp_path, cache_dir):
    root = tmp_path / 'PASCALContext'
    return root, write_pascal(root)


def decode_all(dataset, idx):
    info = dataset.get_data_info(idx)
    return info, {t: decode_annotation(t, a)
                  for t, a in info['ann_info'].items()}


def independent_edges(labels: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian (reflect-101 border) != 0, thinned."""
    p = np.pad(labels.astype(np.float64), 1, mode='reflect')
    lap = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] -
           4 * p[1:-1, 1:-1])
    return thin(lap != 0).astype(np.uint8)


def test_data_info_format_and_metainfo(pascal):
    root, _ = pascal
    ds = PascalContextMTDataset(data_root=str(root), split='train')
    assert len(ds) == 3
    assert ds.metainfo['tasks'] == ('semseg', 'human_parts', 'saliency',
                                    'normals', 'edges')
    assert ds.metainfo['num_classes'] == dict(semseg=21, human_parts=7,
                                              saliency=2, edges=2)
    assert len(ds.metainfo['classes']['semseg']) == 21
    assert ds.metainfo['classes']['human_parts'][0] == 'background'
    info = ds.get_data_info(0)
    assert info['img_id'] == '2008_000001' and info['sample_idx'] == 0
    assert info['img_path'] == str(root / 'JPEGImages' / '2008_000001.jpg')
    assert info['ann_info']['semseg'] == dict(
        type='png_index', num_classes=21,
        path=str(root / 'semseg' / 'VOC12' / '2008_000001.png'))
    assert info['ann_info']['human_parts']['type'] == 'pascal_parts_mat'
    assert ds.get_data_info(1)['ann_info']['human_parts']['type'] == \
        'ignore_like_image'


def test_every_task_decoded_pixel_by_pixel(pascal):
    root, expected = pascal
    ds = PascalContextMTDataset(data_root=str(root), split='train')
    for idx in range(len(ds)):
        info, maps = decode_all(ds, idx)
        exp = expected[info['img_id']]
        np.testing.assert_array_equal(maps['semseg'], exp['semseg'])
        np.testing.assert_array_equal(maps['human_parts'], exp['human_parts'])
        np.testing.assert_array_equal(maps['saliency'], exp['saliency'])
        raw = 2.0 * exp['normals_rgb'].astype(np.float64) / 255.0 - 1.0
        raw /= np.linalg.norm(raw, axis=2, keepdims=True)
        keep = np.isin(exp['label_map'], VALID_IDS)
        assert keep.any() and (~keep).any()
        np.testing.assert_allclose(maps['normals'][keep], raw[keep],
                                   atol=1e-5)
        assert np.all(maps['normals'][~keep] == 0)
        assert maps['normals'].dtype == np.float32
        np.testing.assert_array_equal(maps['edges'],
                                      independent_edges(exp['label_map']))
        assert maps['edges'].any()


def test_parts_ignore_non_person_and_no_person(pascal):
    root, _ = pascal
    path = root / 'human_parts' / '2008_000002.mat'
    out = decode_annotation('human_parts', dict(type='pascal_parts_mat',
                                                path=str(path)))
    assert out.shape == (H, W) and np.all(out == 255)
    empty = root / 'human_parts' / '2008_000003.mat'
    with pytest.raises(AnnotationError, match='image_path'):
        decode_annotation('human_parts', dict(type='pascal_parts_mat',
                                              path=str(empty)))
    img = root / 'JPEGImages' / '2008_000003.jpg'
    out = decode_annotation('human_parts', dict(
        type='pascal_parts_mat', path=str(empty), image_path=str(img)))
    assert out.shape == (H, W) and np.all(out == 255)


def test_tasks_subset_and_unknown_task(pascal):
    root, _ = pascal
    ds = PascalContextMTDataset(data_root=str(root), split='val',
                                tasks=['normals', 'semseg'])
    assert ds.metainfo['tasks'] == ('normals', 'semseg')
    assert set(ds.get_data_info(0)['ann_info']) == {'normals', 'semseg'}
    assert ds.metainfo['num_classes'] == dict(semseg=21)
    with pytest.raises(KeyError, match='not provided by the dataset'):
        PascalContextMTDataset(data_root=str(root), tasks=['depth'])
    with pytest.raises(KeyError, match='known tasks'):
        PascalContextMTDataset(data_root=str(root), tasks=['segm'])


def test_parts_cache_outside_root_reused_and_rebuilt(pascal, cache_dir,
                                                     monkeypatch):
    root, _ = pascal
    # scan as if 10 s after the fixture wrote the files (they have settled)
    later = time.time_ns() + 10**10
    monkeypatch.setattr('mmmtl.datasets.cache.time_ns', lambda: later)
    scanned = []

    def recording(path):
        scanned.append(Path(path).stem)
        return pascal_formats.has_person_parts(path)

    monkeypatch.setattr('mmmtl.datasets.pascal_context_mt.has_person_parts',
                        recording)
    before = list_files(root)
    PascalContextMTDataset(data_root=str(root), split='train')
    assert list_files(root) == before
    assert scanned == ['2008_000001', '2008_000002', '2008_000003']
    files = list((cache_dir / 'pascal_context_parts').glob('*.json'))
    assert len(files) == 1
    entries = json.loads(files[0].read_text())['files']
    assert {i: e['value'] for i, e in entries.items()} == {
        '2008_000001': True, '2008_000002': False, '2008_000003': False}
    scanned.clear()
    shutil.copy(root / 'human_parts' / '2008_000001.mat',
                root / 'human_parts' / 'extra.mat')
    PascalContextMTDataset(data_root=str(root), split='train')
    assert scanned == []  # a file outside the split changes nothing
    # new content (a person with parts), old modification time restored
    target = root / 'human_parts' / '2008_000002.mat'
    stat = target.stat()
    shutil.copyfile(root / 'human_parts' / '2008_000001.mat', target)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    ds = PascalContextMTDataset(data_root=str(root), split='train')
    assert scanned == ['2008_000002']
    assert ds.get_data_info(1)['ann_info']['human_parts']['type'] == \
        'pascal_parts_mat'
    PascalContextMTDataset(data_root=str(root), split='val')
    assert len(list((cache_dir / 'pascal_context_parts').glob('*.json'))) \
        == 2


def test_missing_root_and_missing_file(pascal, tmp_path):
    root, _ = pascal
    with pytest.raises(FileNotFoundError, match='dataset_prepare.md') as e:
        PascalContextMTDataset(data_root=str(tmp_path / 'nowhere'))
    assert 'nowhere' in str(e.value)
    os.remove(root / 'sal_distill' / '2008_000002.png')
    with pytest.raises(FileNotFoundError,
                       match='sal_distill/2008_000002.png'):
        PascalContextMTDataset(data_root=str(root), split='train')
    ds = PascalContextMTDataset(data_root=str(root), split='train',
                                check_files=False)
    with pytest.raises(AnnotationError, match='2008_000002.png'):
        decode_all(ds, 1)


def test_corrupted_image_and_annotation(pascal):
    root, _ = pascal
    (root / 'JPEGImages' / '2008_000001.jpg').write_bytes(b'not a jpeg')
    (root / 'semseg' / 'pascal-context' / '2008_000002.png').write_bytes(
        b'\x89PNG broken')
    ds = PascalContextMTDataset(data_root=str(root), split='train',
                                pipeline=[dict(type='LoadImageFromFile')])
    with pytest.raises(Exception, match='2008_000001.jpg'):
        ds[0]
    with pytest.raises(AnnotationError, match='2008_000002.png'):
        decode_all(ds, 1)


def test_mat_without_expected_fields(pascal):
    root, _ = pascal
    bad = root / 'human_parts' / '2008_000001.mat'
    scipy.io.savemat(str(bad), dict(something=np.zeros(3)))
    with pytest.raises(AnnotationError, match="no key 'anno'") as e:
        decode_annotation('human_parts', dict(type='pascal_parts_mat',
                                              path=str(bad)))
    assert str(bad) in str(e.value)
    scipy.io.savemat(str(bad), dict(anno=dict(imname='x')))
    with pytest.raises(AnnotationError, match='unexpected structure'):
        decode_annotation('human_parts', dict(type='pascal_parts_mat',
                                              path=str(bad)))
    label = root / 'pascal-context' / 'trainval' / '2008_000001.mat'
    scipy.io.savemat(str(label), dict(Labels=np.zeros((H, W))))
    with pytest.raises(AnnotationError, match="no key 'LabelMap'"):
        decode_annotation('edges', dict(type='pascal_edges',
                                        path=str(label)))


def test_out_of_range_label_names_file(pascal):
    root, _ = pascal
    path = root / 'semseg' / 'pascal-context' / '2008_000002.png'
    cv2.imwrite(str(path), np.full((H, W), 21, np.uint8))
    with pytest.raises(AnnotationError, match='out of range') as e:
        decode_annotation('semseg', dict(type='png_index', path=str(path),
                                         num_classes=21))
    assert str(path) in str(e.value)


def test_through_pipeline_and_base_config(pascal):
    from mmengine.config import Config

    from mmmtl.registry import DATASETS
    root, expected = pascal
    cfg = Config.fromfile('configs/_base_/datasets/pascal_context_mt.py')
    for loader, size in ((cfg.train_dataloader, (448, 448)),
                         (cfg.val_dataloader, (H, W))):
        ds_cfg = loader.dataset
        ds_cfg.data_root = str(root)
        ds = DATASETS.build(ds_cfg)
        sample = ds[0]
        assert tuple(sample['inputs'].shape) == (3, 448, 448)
        gt = sample['data_samples'].gt_maps
        assert tuple(gt.semseg.shape) == (1, ) + size
        assert tuple(gt.normals.shape) == (3, ) + size
    img_id = ds.get_data_info(0)['img_id']
    np.testing.assert_array_equal(gt.semseg[0].numpy(),
                                  expected[img_id]['semseg'])
