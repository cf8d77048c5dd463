"""Write a synthetic multi-task dataset in the PASCAL-Context MT layout.

Files per image ``<id>``: ``JPEGImages/<id>.jpg``,
``semseg/pascal-context/<id>.png``, ``human_parts/<id>.mat`` (Pascal-Part
structure; persons with their parts), ``normals_distill/<id>.png``,
``sal_distill/<id>.png``, ``pascal-context/trainval/<id>.mat``
(``LabelMap``) and ``depth/<id>.npy``; plus ``ImageSets/Context`` and
``ImageSets/Parts`` split files. The output is byte-for-byte deterministic
for a given seed (``.mat`` headers carry no timestamp).
"""
import io
import os
import os.path as osp
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import scipy.io

from mmmtl.datasets.cache import cache_key, user_cache_dir
from .scene import PART_NAMES, PERSON, render_scene

GENERATOR_VERSION = 1
MAT_HEADER_SIZE = 116
MAT_HEADER = b'MATLAB 5.0 MAT-file, written by the mmmtl synthetic generator'
PERSON_CLASS_INDEX = 15


def _savemat(path: str, content: dict) -> None:
    """``scipy.io.savemat`` with a fixed (timestamp-free) header."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, content, do_compression=True)
    data = buffer.getvalue()
    header = MAT_HEADER.ljust(MAT_HEADER_SIZE, b' ')
    with open(path, 'wb') as f:
        f.write(header + data[MAT_HEADER_SIZE:])


def _parts_annotation(img_id: str, scene: Dict) -> dict:
    """The Pascal-Part ``anno`` struct of the persons of ``scene``."""
    obj_dtype = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
                 ('parts', 'O')]
    part_dtype = [('part_name', 'O'), ('mask', 'O')]
    persons = [i for i, c in enumerate(scene['instance_classes'])
               if c == PERSON and (scene['instance'] == i).any()]
    objects = np.zeros((1, len(persons)), dtype=obj_dtype)
    for k, inst in enumerate(persons):
        inst_mask = scene['instance'] == inst
        names = [n for n in range(len(PART_NAMES))
                 if (inst_mask & (scene['part'] == n)).any()]
        parts = np.zeros((1, len(names)), dtype=part_dtype)
        for j, n in enumerate(names):
            mask = inst_mask & (scene['part'] == n)
            parts[0, j] = (PART_NAMES[n], mask.astype(np.uint8))
        objects[0, k] = ('person', np.array([[PERSON_CLASS_INDEX]]),
                         inst_mask.astype(np.uint8), parts)
    return dict(anno=dict(imname=img_id, objects=objects))


def _write_sample(root: str, img_id: str, scene: Dict) -> None:
    join = osp.join
    cv2.imwrite(join(root, 'JPEGImages', f'{img_id}.jpg'),
                scene['image'][..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(join(root, 'semseg', 'pascal-context', f'{img_id}.png'),
                scene['semseg'])
    cv2.imwrite(join(root, 'sal_distill', f'{img_id}.png'),
                scene['saliency'] * 255)
    normals = scene['normals'].copy()
    normals[scene['depth'] == 0] = (0.0, 0.0, 1.0)
    encoded = np.clip(np.round((normals + 1) * 127.5), 0, 255)
    cv2.imwrite(join(root, 'normals_distill', f'{img_id}.png'),
                encoded.astype(np.uint8)[..., ::-1])
    _savemat(join(root, 'pascal-context', 'trainval', f'{img_id}.mat'),
             dict(LabelMap=scene['context']))
    _savemat(join(root, 'human_parts', f'{img_id}.mat'),
             _parts_annotation(img_id, scene))
    np.save(join(root, 'depth', f'{img_id}.npy'), scene['depth'])


def _write_split(path: str, ids: List[str]) -> None:
    with open(path, 'w') as f:
        f.write(''.join(f'{i}\n' for i in ids))


def generate_synthetic_dataset(root: str, num_train: int = 64,
                               num_val: int = 32, size: int = 128,
                               seed: int = 0) -> str:
    """Write the synthetic dataset to ``root`` (created; must not exist).

    Image ``i`` is rendered from ``np.random.default_rng([seed, i])``, so a
    sample does not depend on the split sizes.

    Returns:
        ``root``.
    """
    if osp.exists(root):
        raise FileExistsError(f'synthetic dataset output {root!r} exists; '
                              'remove it or choose another --out')
    folders = ('JPEGImages', 'ImageSets/Context', 'ImageSets/Parts',
               'semseg/pascal-context', 'human_parts', 'normals_distill',
               'sal_distill', 'pascal-context/trainval', 'depth')
    for folder in folders:
        os.makedirs(osp.join(root, folder))
    splits = dict(train=[], val=[])
    with_parts = dict(train=[], val=[])
    for i in range(num_train + num_val):
        split = 'train' if i < num_train else 'val'
        img_id = f'synth_{i:06d}'
        scene = render_scene(size, np.random.default_rng([seed, i]))
        _write_sample(root, img_id, scene)
        splits[split].append(img_id)
        if (scene['part'] >= 0).any():
            with_parts[split].append(img_id)
    for split in splits:
        _write_split(osp.join(root, 'ImageSets', 'Context', f'{split}.txt'),
                     splits[split])
        _write_split(osp.join(root, 'ImageSets', 'Parts', f'{split}.txt'),
                     with_parts[split])
    return root


def synthetic_cache_root(num_train: int = 64, num_val: int = 32,
                         size: int = 128, seed: int = 0) -> Path:
    """``<cache>/synthetic/<hash of the parameters and generator version>``."""
    key = cache_key(GENERATOR_VERSION, num_train, num_val, size, seed)
    return user_cache_dir() / 'synthetic' / key


def ensure_synthetic_dataset(root: str, **params) -> str:
    """Generate the dataset at ``root`` unless it exists (process-safe).

    The data are written to a temporary sibling folder that is renamed to
    ``root``; when another process wins the race its copy is kept.
    """
    if osp.isdir(root):
        return root
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp_parent = tempfile.mkdtemp(prefix='.synthetic-', dir=parent)
    try:
        tmp = osp.join(tmp_parent, uuid.uuid4().hex)
        generate_synthetic_dataset(tmp, **params)
        try:
            os.rename(tmp, root)
        except OSError:
            if not osp.isdir(root):
                raise
    finally:
        shutil.rmtree(tmp_parent, ignore_errors=True)
    return root
