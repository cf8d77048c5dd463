"""Check a dataset split against its config: files, decoding, shapes, ranges.

    python tools/misc/check_dataset.py CONFIG [--split train|val]
        [--cfg-options k=v ...]

Walks every image of the split with the real annotation decoders (no
augmentation) and reports missing files, unreadable files, maps whose size
differs from the image, label values out of range and, per task, how many
images have any annotated pixel. Exits with 1 on any problem. Size
mismatches are only warnings when the config's pipeline resizes maps to
the image (``LoadMultiTaskAnnotations(size_mismatch='resize')``).
"""
import argparse
import copy
import os.path as osp
import sys
from collections import Counter, defaultdict
from typing import Dict, List, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from mmmtl.datasets import AnnotationError, decode_annotation  # noqa: E402
from mmmtl.apis import load_config  # noqa: E402
from mmmtl.registry import DATASETS  # noqa: E402
from mmmtl.structures import get_task  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

Problem = Tuple[str, str, str]  # kind, file, detail


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check a dataset split')
    parser.add_argument('config', help='config file with *_dataloader')
    parser.add_argument('--split', default='train', choices=['train', 'val'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args(argv)


def resizes_maps(pipeline: List[dict]) -> bool:
    """Whether the pipeline resizes mismatched maps to the image."""
    return any(t.get('type') == 'LoadMultiTaskAnnotations'
               and t.get('size_mismatch') == 'resize' for t in pipeline)


def annotated(task: str, array: np.ndarray) -> bool:
    """Whether a decoded map has at least one non-ignored pixel."""
    kind = get_task(task).kind
    if kind == 'normal':
        return bool(np.any(array != 0))
    if kind == 'scalar':
        return bool(np.any(array > 0))
    return bool(np.any(array != 255))


def classify(error: AnnotationError) -> str:
    """Problem kind of a decoder error."""
    text = str(error)
    if 'file not found' in text:
        return 'missing file'
    if 'out of range' in text or 'other than 0/1/255' in text:
        return 'label values out of range'
    return 'unreadable file'


def check_sample(dataset, info: dict, coverage: Counter,
                 problems: List[Problem]) -> None:
    """Check one data_info; append problems, count annotated tasks."""
    missing = [p for p in dataset.required_files(info) if not osp.isfile(p)]
    problems += [('missing file', p, f'image {info["img_id"]}')
                 for p in missing]
    img_shape = None
    if info['img_path'] not in missing:
        img = cv2.imread(info['img_path'], cv2.IMREAD_COLOR)
        if img is None:
            problems.append(('unreadable file', info['img_path'],
                             'cannot decode the image'))
        else:
            img_shape = img.shape[:2]
    for task in info['tasks']:
        ann = info['ann_info'][task]
        if any(v in missing for k, v in ann.items() if k.endswith('path')):
            continue
        try:
            array = decode_annotation(task, ann)
        except AnnotationError as exc:
            problems.append((classify(exc), ann['path'], f'{task}: {exc}'))
            continue
        if img_shape is not None and array.shape[:2] != img_shape:
            problems.append(('shape mismatch', ann['path'],
                             f'{task}: map {array.shape[:2]} vs image '
                             f'{img_shape}'))
        coverage[task] += annotated(task, array)


def report(name: str, total: int, tasks, coverage: Counter,
           problems: List[Problem], warn_kinds=()) -> int:
    """Print the summary; return the exit code."""
    print(f'{name}: {total} images')
    for task in tasks:
        print(f'  {task:<12s} annotated in {coverage[task]}/{total} images')
    by_kind: Dict[str, List[Problem]] = defaultdict(list)
    for problem in problems:
        by_kind[problem[0]].append(problem)
    failing = 0
    for kind, items in by_kind.items():
        level = 'WARNING' if kind in warn_kinds else 'ERROR'
        failing += 0 if kind in warn_kinds else len(items)
        print(f'{level}: {len(items)} x {kind}')
        for _, path, detail in items:
            print(f'  {kind}: {path} ({detail})')
    print('OK' if not failing else f'FAILED: {failing} problem(s)')
    return 1 if failing else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    loader = cfg.get(f'{args.split}_dataloader')
    if loader is None:
        print(f'ERROR: {args.config} has no {args.split}_dataloader')
        return 1
    ds_cfg = copy.deepcopy(loader['dataset'])
    warn_kinds = ('shape mismatch', ) if resizes_maps(
        ds_cfg.get('pipeline', [])) else ()
    ds_cfg.update(pipeline=[], check_files=False, split=args.split)
    try:
        dataset = DATASETS.build(ds_cfg)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f'ERROR: cannot build the dataset: {exc}')
        return 1
    coverage: Counter = Counter()
    problems: List[Problem] = []
    for idx in range(len(dataset)):
        check_sample(dataset, dataset.get_data_info(idx), coverage, problems)
    name = f'{type(dataset).__name__} ({args.split}, {dataset.data_root})'
    return report(name, len(dataset), dataset.metainfo['tasks'], coverage,
                  problems, warn_kinds)


if __name__ == '__main__':
    sys.exit(main())
