"""Tiny PASCAL-Context MT and NYUD-v2 MT trees in the real on-disk formats.

Each writer returns the expected decoded maps, computed here from the
values written (not by the code under test).
"""
import os
from pathlib import Path
from typing import Dict

import cv2
import numpy as np
import scipy.io
from PIL import Image

H, W = 12, 16
OBJ_DTYPE = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
             ('parts', 'O')]
PART_DTYPE = [('part_name', 'O'), ('mask', 'O')]
PASCAL_SPLITS = dict(train=['2008_000001', '2008_000002', '2008_000003'],
                     val=['2008_000004'])


def pascal_part_mat(path: Path, objects) -> None:
    """``objects``: list of (class name, class index, mask, [(part, mask)])."""
    objs = np.zeros((1, len(objects)), dtype=OBJ_DTYPE)
    for k, (name, index, mask, parts) in enumerate(objects):
        if parts:
            part_arr = np.zeros((1, len(parts)), dtype=PART_DTYPE)
            for j, (pname, pmask) in enumerate(parts):
                part_arr[0, j] = (pname, pmask.astype(np.uint8))
        else:
            part_arr = np.zeros((0, 0))
        objs[0, k] = (name, np.array([[index]]), mask.astype(np.uint8),
                      part_arr)
    scipy.io.savemat(str(path), dict(anno=dict(imname=path.stem,
                                               objects=objs)))


def _box(y0, y1, x0, x1):
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _mkdirs(root: Path, *folders: str) -> None:
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)


def write_pascal(root: Path, seed: int = 0) -> Dict[str, dict]:
    """Write the tree; return ``{id: {task: expected map, ...}}``."""
    rng = np.random.default_rng(seed)
    _mkdirs(root, 'JPEGImages', 'ImageSets/Context', 'ImageSets/Parts',
            'semseg/VOC12', 'semseg/pascal-context', 'human_parts',
            'normals_distill', 'sal_distill', 'pascal-context/trainval')
    for split, ids in PASCAL_SPLITS.items():
        (root / 'ImageSets/Context' / f'{split}.txt').write_text(
            '\n'.join(ids) + '\n')
        (root / 'ImageSets/Parts' / f'{split}.txt').write_text(ids[0] + '\n')
    expected = {}
    for n, img_id in enumerate(sum(PASCAL_SPLITS.values(), [])):
        exp = {}
        cv2.imwrite(str(root / 'JPEGImages' / f'{img_id}.jpg'),
                    rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
        semseg = rng.choice([0, 3, 15, 20, 255], (H, W)).astype(np.uint8)
        exp['semseg'] = semseg
        if n == 0:  # palette PNG in VOC12 wins over pascal-context
            img = Image.frombytes('P', (W, H), semseg.tobytes())
            img.putpalette(list(rng.integers(0, 256, 768, dtype=np.uint8)))
            img.save(root / 'semseg/VOC12' / f'{img_id}.png')
            Image.fromarray(np.zeros((H, W), np.uint8)).save(
                root / 'semseg/pascal-context' / f'{img_id}.png')
        else:
            Image.fromarray(semseg).save(
                root / 'semseg/pascal-context' / f'{img_id}.png')
        exp['human_parts'] = _write_parts(root, img_id, n)
        labels = rng.choice([1, 2, 3, 284, 459], (H, W)).astype(np.uint16)
        labels[:, :W // 2] = 3
        scipy.io.savemat(str(root / 'pascal-context/trainval' /
                             f'{img_id}.mat'), dict(LabelMap=labels))
        exp['label_map'] = labels
        normals_rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        Image.fromarray(normals_rgb).save(root / 'normals_distill' /
                                          f'{img_id}.png')
        exp['normals_rgb'] = normals_rgb
        sal = rng.choice([0, 100, 127, 128, 200, 255], (H, W)).astype(np.uint8)
        Image.fromarray(sal).save(root / 'sal_distill' / f'{img_id}.png')
        exp['saliency'] = (sal >= 128).astype(np.uint8)
        expected[img_id] = exp
    return expected


def _write_parts(root: Path, img_id: str, n: int) -> np.ndarray:
    path = root / 'human_parts' / f'{img_id}.mat'
    if n == 0:
        person = _box(0, 12, 0, 8)
        parts = [('hair', _box(0, 1, 2, 5)), ('head', _box(1, 3, 2, 5)),
                 ('torso', _box(3, 7, 1, 7)), ('llarm', _box(3, 7, 7, 8)),
                 ('ruleg', _box(7, 10, 1, 4)), ('rfoot', _box(10, 12, 1, 4)),
                 ('lhand', _box(7, 8, 7, 8))]
        cat = _box(0, 6, 9, 16)
        objects = [('person', 15, person, parts),
                   ('cat', 8, cat, [('head', _box(0, 3, 9, 12))]),
                   ('person', 15, _box(6, 12, 9, 16), [])]
        pascal_part_mat(path, objects)
        expected = np.zeros((H, W), np.uint8)
        for (name, mask), group in zip(parts, (1, 1, 2, 4, 5, 6, 4)):
            expected[mask] = group
        return expected
    if n == 1:  # only a non-person object with parts
        pascal_part_mat(path, [('cat', 8, _box(0, 6, 0, 6),
                                [('head', _box(0, 2, 0, 2))])])
    else:  # no object at all
        pascal_part_mat(path, [])
    return np.full((H, W), 255, np.uint8)


NYUD_SPLITS = dict(train=['0001', '0002'], val=['0003'])


def write_nyud(root: Path, seed: int = 0) -> Dict[str, dict]:
    """Write a NYUD_MT tree; return ``{id: {task: expected map}}``."""
    rng = np.random.default_rng(seed)
    _mkdirs(root, 'images', 'segmentation', 'depth', 'normals', 'edge',
            'gt_sets')
    for split, ids in NYUD_SPLITS.items():
        (root / 'gt_sets' / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    expected = {}
    for img_id in sum(NYUD_SPLITS.values(), []):
        cv2.imwrite(str(root / 'images' / f'{img_id}.jpg'),
                    rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
        seg = rng.choice([0, 1, 2, 17, 40], (H, W)).astype(np.uint8)
        Image.fromarray(seg).save(root / 'segmentation' / f'{img_id}.png')
        depth = rng.uniform(0.5, 9.0, (H, W)).astype(np.float32)
        depth[0, :5] = 0.0
        np.save(root / 'depth' / f'{img_id}.npy', depth)
        normals = rng.uniform(-1, 1, (H, W, 3)).astype(np.float32)
        normals[1, 1] = 0.0
        np.save(root / 'normals' / f'{img_id}.npy', normals)
        edge = (rng.random((H, W)) > 0.8).astype(np.float32)
        np.save(root / 'edge' / f'{img_id}.npy', edge)
        seg_exp = seg.astype(np.int64) - 1
        seg_exp[seg == 0] = 255
        norm = np.linalg.norm(normals, axis=2, keepdims=True)
        unit = np.where(norm > 0, normals / np.maximum(norm, 1e-12), 0)
        expected[img_id] = dict(semseg=seg_exp.astype(np.uint8), depth=depth,
                                normals=unit, edges=edge.astype(np.uint8))
    return expected


def list_files(root: Path) -> set:
    """Every path under ``root`` with its size and mtime."""
    return {(str(p), p.stat().st_size, p.stat().st_mtime_ns)
            for p in Path(root).rglob('*')} | {len(os.listdir(root))}


def deny_reading(monkeypatch, path) -> None:
    """Make Python's ``open`` of ``path`` fail with "Permission denied",
    as ``chmod 000`` does for a user other than root (tests run as root)."""
    import builtins
    real_open = builtins.open
    denied = os.path.abspath(str(path))

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and \
                os.path.abspath(os.fspath(file)) == denied:
            raise PermissionError(13, 'Permission denied', str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', guarded_open)
