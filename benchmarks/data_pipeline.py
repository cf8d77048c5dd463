"""Images/s of the PASCAL-Context training pipeline vs MTLoRA's transforms.

    python benchmarks/data_pipeline.py [--data-root PATH] [--images 24]
        [--repeats 5] [--tasks semseg,human_parts,saliency,normals]
        [--out benchmarks/results/data_pipeline_cpu.json]

Without ``--data-root`` it writes a PASCAL-Context tree (the on-disk
formats of ``tests/test_datasets/dataset_fixtures.py``) at the real size:
500x375 JPEG images, PNG semseg and saliency maps, Pascal-Part ``.mat``
human parts, ``normals_distill`` PNGs and ``LabelMap`` ``.mat`` files, with
smooth content so that files compress as real ones do.

Three pipelines run in ONE process with one thread (as one dataloader
worker), taking turns image by image; each (pipeline, image) keeps its
fastest of ``--repeats`` runs, so that load from other processes hits all
alike:

* ``ours``: the config's ``train_pipeline`` (448x448 output), built from
  ``configs/_base_/datasets/pascal_context_mt.py``;
* ``ours_fused``: the same with ``MultiTaskRandomScaleRotate`` and
  ``MultiTaskResize`` replaced by ``MultiTaskRandomScaleRotateResize``;
* ``theirs``: a plain reimplementation of the MTLoRA / ASTMT PASCAL-Context
  training transforms (``data/custom_transforms.py`` of scale-lab/MTLoRA,
  read for facts): float32 RGB arrays (their loader makes float64, which
  is slower: float32 favours them); horizontal flip
  (p = 0.5, normals' x negated); scale (0.75-1.25) and rotate (+-20 deg)
  about (w/2, h/2), one ``cv2.warpAffine`` per map (bicubic image and
  normals, nearest labels), normals' in-plane angle rotated; fixed resize
  to 448x448 (same interpolations) and normals re-normalised; ignore
  regions (zero normals -> 255); ``ToTensor`` (image /255, labels float64)
  and ImageNet normalisation. MTLoRA has no photometric augmentation.

All decode with the same loader code (mmmtl's ``LoadImageFromFile`` and
``LoadMultiTaskAnnotations``). Reports images/s of each, the ratios
ours / theirs (goal >= 1.0) with and without decoding, and milliseconds
per image of each stage (decode, geometric, photometric, pack).
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import sys
import tempfile
import time
from typing import Callable, Dict, List

import cv2
import numpy as np
import scipy.io
import torch
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmengine.config import Config  # noqa: E402

from mmmtl.datasets import PascalContextMTDataset  # noqa: E402
from mmmtl.datasets.cache import CACHE_ENV  # noqa: E402
from mmmtl.datasets.formats.pascal import normals_valid_classes  # noqa: E402
from mmmtl.registry import TRANSFORMS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', '_base_', 'datasets',
                  'pascal_context_mt.py')
WIDTH, HEIGHT = 500, 375
OUT_SIZE = 448
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
STAGES = dict(LoadImageFromFile='decode', LoadMultiTaskAnnotations='decode',
              MultiTaskRandomScaleRotate='geometric',
              MultiTaskResize='geometric', MultiTaskRandomFlip='geometric',
              MultiTaskRandomScaleRotateResize='geometric',
              PhotoMetricDistortion='photometric',
              PackMultiTaskInputs='pack')
PART_NAMES = ('head', 'torso', 'luarm', 'llarm', 'ruleg', 'rlleg')


def smooth_field(rng: np.random.Generator, channels: int,
                 cells: int = 12) -> np.ndarray:
    """Smooth random float32 (HEIGHT, WIDTH, channels) field in [0, 1]."""
    coarse = rng.random((cells, cells, channels)).astype(np.float32)
    field = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(field.reshape(HEIGHT, WIDTH, channels), 0.0, 1.0)


def blob_labels(rng: np.random.Generator, values: List[int]) -> np.ndarray:
    """(HEIGHT, WIDTH) int64 map of ``values`` in large smooth regions."""
    coarse = rng.integers(0, len(values), (9, 12))
    index = cv2.resize(coarse.astype(np.uint8), (WIDTH, HEIGHT),
                       interpolation=cv2.INTER_NEAREST)
    return np.asarray(values)[index]


def write_parts(path: str, rng: np.random.Generator, person: bool) -> None:
    """Pascal-Part ``.mat``: one person with six parts, or one cat."""
    obj_dtype = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
                 ('parts', 'O')]
    part_dtype = [('part_name', 'O'), ('mask', 'O')]
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[60:340, 150:350] = 1
    objs = np.zeros((1, 1), dtype=obj_dtype)
    if person:
        parts = np.zeros((1, len(PART_NAMES)), dtype=part_dtype)
        for k, name in enumerate(PART_NAMES):
            part = np.zeros_like(mask)
            top = 60 + 45 * k + int(rng.integers(0, 5))
            part[top:top + 45, 160:340] = 1
            parts[0, k] = (name, part)
        objs[0, 0] = ('person', np.array([[15]]), mask, parts)
    else:
        objs[0, 0] = ('cat', np.array([[8]]), mask, np.zeros((0, 0)))
    scipy.io.savemat(path, dict(anno=dict(imname='x', objects=objs)))


def write_tree(root: str, count: int, seed: int = 0) -> None:
    """PASCAL-Context tree of ``count`` 500x375 training images."""
    rng = np.random.default_rng(seed)
    for folder in ('JPEGImages', 'ImageSets/Context', 'semseg/VOC12',
                   'human_parts', 'normals_distill', 'sal_distill',
                   'pascal-context/trainval'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    ids = [f'2008_{k:06d}' for k in range(count)]
    with open(osp.join(root, 'ImageSets/Context/train.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    valid = sorted(normals_valid_classes())
    for k, img_id in enumerate(ids):
        img = smooth_field(rng, 3) * 200 + rng.random((HEIGHT, WIDTH, 1)) * 55
        cv2.imwrite(osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
                    img.astype(np.uint8))
        semseg = blob_labels(rng, [0, 3, 8, 15, 20, 255]).astype(np.uint8)
        Image.fromarray(semseg).save(
            osp.join(root, 'semseg/VOC12', f'{img_id}.png'))
        write_parts(osp.join(root, 'human_parts', f'{img_id}.mat'), rng,
                    person=k % 2 == 0)
        sal = (smooth_field(rng, 1)[..., 0] * 255).astype(np.uint8)
        Image.fromarray(sal).save(
            osp.join(root, 'sal_distill', f'{img_id}.png'))
        normals = (smooth_field(rng, 3) * 255).astype(np.uint8)
        Image.fromarray(normals).save(
            osp.join(root, 'normals_distill', f'{img_id}.png'))
        labels = blob_labels(rng, valid[:4] + [0, 1]).astype(np.uint16)
        scipy.io.savemat(osp.join(root, 'pascal-context/trainval',
                                  f'{img_id}.mat'), dict(LabelMap=labels))


class Timer:
    """Accumulates seconds per stage name."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}

    def run(self, stage: str, fn: Callable, arg):
        start = time.perf_counter()
        out = fn(arg)
        self.seconds[stage] = (self.seconds.get(stage, 0.0) +
                               time.perf_counter() - start)
        return out


def ours_step(transforms: list, timer: Timer, info: dict) -> dict:
    """mmmtl's train_pipeline on one data_info, timed per stage."""
    results = copy.deepcopy(info)
    for transform in transforms:
        stage = STAGES.get(type(transform).__name__, 'other')
        results = timer.run(stage, transform, results)
    return results


def their_sample(results: dict) -> dict:
    """The arrays MTLoRA's PASCAL loader hands to its transforms, in float32
    (theirs are float64): RGB image and task maps (normals (H, W, 3))."""
    sample = dict(image=results['img'][..., ::-1].astype(np.float32))
    for task, array in results['gt_maps'].items():
        sample[task] = array.astype(np.float32)
    return sample


def their_flip(sample: dict) -> dict:
    if np.random.random() < 0.5:
        for key, array in sample.items():
            sample[key] = cv2.flip(array, 1)
            if key == 'normals':
                sample[key][:, :, 0] *= -1
    return sample


def their_scale_rotate(sample: dict) -> dict:
    angle = 40 * np.random.random() - 20
    scale = 0.5 * np.random.random() - 0.25 + 1
    for key, array in sample.items():
        height, width = array.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle,
                                         scale)
        if key == 'normals':
            in_plane = np.arctan2(array[..., 0], array[..., 1])
            length = np.sqrt(array[..., 0]**2 + array[..., 1]**2)
            theta = math.radians(angle)
            array[..., 0] = np.sin(in_plane + theta) * length
            array[..., 1] = np.cos(in_plane + theta) * length
        flag = (cv2.INTER_CUBIC if key in ('image', 'normals') else
                cv2.INTER_NEAREST)
        sample[key] = cv2.warpAffine(array, matrix, (width, height),
                                     flags=flag)
    return sample


def their_resize(sample: dict) -> dict:
    for key, array in sample.items():
        flag = (cv2.INTER_CUBIC if key in ('image', 'normals') else
                cv2.INTER_NEAREST)
        out = cv2.resize(array, (OUT_SIZE, OUT_SIZE), interpolation=flag)
        if key == 'normals':
            norm = np.sqrt((out.astype(np.float64)**2).sum(axis=2,
                                                           keepdims=True))
            out = out / (norm + np.finfo(float).eps)
        sample[key] = out
    return sample


def their_pack(sample: dict) -> dict:
    """Ignore regions, ToTensor (labels float64) and normalisation."""
    if 'normals' in sample:
        normals = sample['normals']
        normals[np.sqrt((normals**2).sum(axis=2)) == 0] = 255.0
    if 'human_parts' in sample and (sample['human_parts'] == 0).all():
        sample['human_parts'] = np.full_like(sample['human_parts'], 255)
    out = {}
    for key, array in sample.items():
        if array.ndim == 2:
            array = array[:, :, None]
        if key == 'image':
            img = torch.from_numpy(
                array.astype(np.uint8).transpose(2, 0, 1).copy())
            img = img.float().div(255)
            mean = torch.from_numpy(MEAN)[:, None, None]
            std = torch.from_numpy(STD)[:, None, None]
            out[key] = (img - mean) / std
        else:
            out[key] = torch.from_numpy(
                array.transpose(2, 0, 1).astype(float))
    return out


def theirs_step(loaders: list, timer: Timer, info: dict) -> dict:
    """Same decoding, then the MTLoRA transforms, timed per stage."""
    results = copy.deepcopy(info)
    for transform in loaders:
        results = timer.run('decode', transform, results)
    sample = timer.run('geometric', their_sample, results)
    for fn in (their_flip, their_scale_rotate, their_resize):
        sample = timer.run('geometric', fn, sample)
    return timer.run('pack', their_pack, sample)


def machine() -> dict:
    """Machine and library description for the JSON."""
    return dict(platform=platform.platform(), processor=platform.processor(),
                cpu_count=os.cpu_count(), python=platform.python_version(),
                numpy=np.__version__, opencv=cv2.__version__,
                torch=torch.__version__, threads=1)


def measure(infos: List[dict], repeats: int,
            steps: Dict[str, Callable]) -> dict:
    """Time every pipeline on every image ``repeats`` times.

    The pipelines take turns image by image (each seeded with the image's
    index, so all see the same random draws), and each (pipeline, image)
    keeps its fastest run: a burst of load from other processes on a
    shared machine then spoils one run, not the comparison.
    """
    best: Dict[str, List[Timer]] = {name: [] for name in steps}
    for repeat in range(repeats):
        for index, info in enumerate(infos):
            for name, step in steps.items():
                timer = Timer()
                np.random.seed(index)
                timer.run('total', lambda i: step(timer, i), info)
                if repeat == 0:
                    best[name].append(timer)
                elif (timer.seconds['total'] <
                      best[name][index].seconds['total']):
                    best[name][index] = timer
    report = {}
    for name, timers in best.items():
        count = len(timers)
        total = sum(t.seconds['total'] for t in timers)
        stages = sorted({s for t in timers for s in t.seconds} - {'total'})
        report[name] = dict(
            images_per_s=count / total,
            ms_per_image=1e3 * total / count,
            stage_ms_per_image={
                stage: 1e3 * sum(t.seconds.get(stage, 0.0)
                                 for t in timers) / count
                for stage in stages
            })
    return report


def fused_pipeline(pipeline: List[dict]) -> List[dict]:
    """``pipeline`` with ``MultiTaskRandomScaleRotate`` followed by
    ``MultiTaskResize`` replaced by one ``MultiTaskRandomScaleRotateResize``.
    """
    out: List[dict] = []
    for step in pipeline:
        if step['type'] == 'MultiTaskResize' and out and \
                out[-1]['type'] == 'MultiTaskRandomScaleRotate':
            rotate = {k: v for k, v in out.pop().items() if k != 'type'}
            step = dict(step, type='MultiTaskRandomScaleRotateResize',
                        **rotate)
        out.append(dict(step))
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', help='a real PASCAL-Context tree')
    parser.add_argument('--images', type=int, default=24,
                        help='images written / used')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--tasks',
                        default='semseg,human_parts,saliency,normals')
    parser.add_argument('--out', default=osp.join(
        ROOT, 'benchmarks', 'results', 'data_pipeline_cpu.json'))
    return parser.parse_args()


def run(args: argparse.Namespace, data_root: str) -> dict:
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    register_all_modules()
    tasks = tuple(args.tasks.split(','))
    dataset = PascalContextMTDataset(data_root=data_root, split='train',
                                     tasks=tasks, pipeline=[])
    infos = [dataset.get_data_info(i)
             for i in range(min(args.images, len(dataset)))]
    pipeline = Config.fromfile(CONFIG).train_pipeline
    transforms = [TRANSFORMS.build(t) for t in pipeline]
    fused = [TRANSFORMS.build(t) for t in fused_pipeline(pipeline)]
    loaders = transforms[:2]
    steps = dict(
        ours=lambda timer, info: ours_step(transforms, timer, info),
        ours_fused=lambda timer, info: ours_step(fused, timer, info),
        theirs=lambda timer, info: theirs_step(loaders, timer, info))
    report = measure(infos, args.repeats, steps)

    def no_decode(name: str) -> float:
        stages = report[name]['stage_ms_per_image']
        return sum(v for k, v in stages.items() if k != 'decode')

    theirs = report['theirs']['images_per_s']
    return dict(
        machine=machine(), data_root=args.data_root or 'synthetic',
        image_size=[HEIGHT, WIDTH] if not args.data_root else None,
        output_size=OUT_SIZE, tasks=list(tasks), images=len(infos),
        repeats=args.repeats, pipelines=report,
        ratio_ours_over_theirs={
            name: report[name]['images_per_s'] / theirs
            for name in ('ours', 'ours_fused')
        },
        ratio_without_decode={
            name: no_decode('theirs') / no_decode(name)
            for name in ('ours', 'ours_fused')
        })


def main() -> None:
    args = parse_args()
    if args.data_root:
        result = run(args, args.data_root)
    else:
        with tempfile.TemporaryDirectory() as root:
            os.environ[CACHE_ENV] = osp.join(root, 'cache')
            write_tree(osp.join(root, 'data'), args.images)
            result = run(args, osp.join(root, 'data'))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
