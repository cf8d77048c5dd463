"""Check a dataset split against its config: files, decoding, shapes, ranges.

    python tools/misc/check_dataset.py CONFIG [--split train|val]
        [--cfg-options k=v ...]

Builds the split's dataset from the config (with its pipeline) and reads
every image and annotation exactly as training does: the image with the
pipeline's own ``LoadImageFromFile`` (same options), every annotation with
the decoder ``LoadMultiTaskAnnotations`` calls (no augmentation). Reports
missing files, unreadable files (permission denied, corrupted images,
``.mat`` files without the expected fields), maps with the wrong number of
channels for their task, maps whose size differs from the image, label
values out of range, tasks with no annotated pixel in the whole split and,
per task, how many images have any annotated pixel. Size mismatches are
only warnings when the pipeline resizes maps to the image
(``LoadMultiTaskAnnotations(size_mismatch='resize')``).

Exit status: 0 when the split has no problem, 1 when it has problems or
the dataset cannot be built (missing or invalid data root, unreadable
split file, duplicate ids), 2 for a wrong command (config file not found,
a ``--cfg-options`` key that matches nothing in the config).
"""
import argparse
import os.path as osp
import sys
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402
from mmcv.transforms import LoadImageFromFile  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from mmmtl.apis import exit_on_user_error, load_config  # noqa: E402
from mmmtl.datasets import AnnotationError, decode_annotation  # noqa: E402
from mmmtl.datasets.decoders import ImageDecodeError  # noqa: E402
from mmmtl.datasets.transforms import LoadMultiTaskAnnotations  # noqa: E402
from mmmtl.registry import DATASETS  # noqa: E402
from mmmtl.structures import get_task  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

Problem = Tuple[str, str, str]  # kind, file, detail
Shape = Optional[Tuple[int, int]]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check a dataset split')
    parser.add_argument('config', help='config file with *_dataloader')
    parser.add_argument('--split', default='train', choices=['train', 'val'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args(argv)


def pipeline_loaders(dataset) -> Tuple[LoadImageFromFile,
                                       LoadMultiTaskAnnotations]:
    """The image and annotation loaders of the dataset's pipeline (built
    from the config, so with its options); defaults when it has none."""
    transforms = getattr(dataset.pipeline, 'transforms', [])
    image = [t for t in transforms if isinstance(t, LoadImageFromFile)]
    anns = [t for t in transforms if isinstance(t, LoadMultiTaskAnnotations)]
    return (image[0] if image else LoadImageFromFile(),
            anns[0] if anns else LoadMultiTaskAnnotations())


def annotated(task: str, array: np.ndarray) -> bool:
    """Whether a decoded map has at least one non-ignored pixel."""
    kind = get_task(task).kind
    if kind == 'normal':
        return bool(np.any(array != 0))
    if kind == 'scalar':
        return bool(np.any(array > 0))
    return bool(np.any(array != 255))


def load_image(loader: LoadImageFromFile, info: dict,
               problems: List[Problem]) -> Shape:
    """Run the pipeline's image loader on ``info``; return the image's
    (H, W) (the ``ori_shape`` maps are checked against) or None."""
    path = info['img_path']
    try:
        results = loader(dict(info))
    except (AssertionError, ImageDecodeError):  # mmcv's / mmmtl's loader
        detail = 'cannot decode the image (corrupted or not an image)'
    except OSError as exc:
        detail = f'cannot read the image: {exc.strerror or exc}'
    except Exception as exc:  # any other loader failure stops training
        detail = f'cannot load the image: {type(exc).__name__}: {exc}'
    else:
        if results is not None:
            return tuple(results['ori_shape'][:2])
        detail = ('cannot load the image; LoadImageFromFile(ignore_empty='
                  'True) skips it')
    problems.append(('unreadable file', path, detail))
    return None


def failing_file(ann: dict, error: AnnotationError) -> str:
    """The file of ``ann`` an error is about: the first of its ``*path``
    options the message names (decoder errors name their file), else its
    ``path``."""
    named = [v for k, v in ann.items()
             if k.endswith('path') and isinstance(v, str) and v in str(error)]
    return named[0] if named else ann['path']


def check_sample(dataset, info: dict, image_loader: LoadImageFromFile,
                 coverage: Counter, problems: List[Problem]) -> None:
    """Check one data_info; append problems, count annotated tasks."""
    missing = [p for p in dataset.required_files(info) if not osp.isfile(p)]
    problems += [('missing file', p, f'image {info["img_id"]}')
                 for p in missing]
    img_shape = None
    if info['img_path'] not in missing:
        img_shape = load_image(image_loader, info, problems)
    for task in info['tasks']:
        ann = info['ann_info'][task]
        if any(v in missing for k, v in ann.items() if k.endswith('path')):
            continue
        try:
            array = decode_annotation(task, ann)
        except AnnotationError as exc:
            problems.append((exc.problem, failing_file(ann, exc),
                             f'{task}: {exc}'))
            continue
        if img_shape is not None and array.shape[:2] != img_shape:
            problems.append(('shape mismatch', ann['path'],
                             f'{task}: map {array.shape[:2]} vs image '
                             f'{img_shape}'))
        coverage[task] += annotated(task, array)


def unannotated_tasks(tasks, total: int, coverage: Counter,
                      problems: List[Problem], name: str) -> None:
    """Append a problem for each task no image of the split annotates."""
    for task in tasks:
        if total and not coverage[task]:
            problems.append((
                'task without annotated pixels', name,
                f'{task}: every pixel of all {total} images is ignored; '
                'training learns nothing from it and evaluating it fails'))


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


def build_dataset(loader_cfg: dict, split: str):
    """The split's dataset with its pipeline, files not pre-checked (the
    checker reports them itself); prints why and returns None on error."""
    ds_cfg = dict(loader_cfg['dataset'], check_files=False, split=split)
    try:
        return DATASETS.build(ds_cfg)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args \
            else exc
        print(f'ERROR: cannot build the dataset: {message}')
        return None


@exit_on_user_error
def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    loader_cfg = cfg.get(f'{args.split}_dataloader')
    if loader_cfg is None:
        print(f'ERROR: {args.config} has no {args.split}_dataloader')
        return 1
    dataset = build_dataset(loader_cfg, args.split)
    if dataset is None:
        return 1
    image_loader, ann_loader = pipeline_loaders(dataset)
    warn_kinds = (('shape mismatch', )
                  if ann_loader.size_mismatch == 'resize' else ())
    coverage: Counter = Counter()
    problems: List[Problem] = []
    for idx in range(len(dataset)):
        check_sample(dataset, dataset.get_data_info(idx), image_loader,
                     coverage, problems)
    name = f'{type(dataset).__name__} ({args.split}, {dataset.data_root})'
    tasks = dataset.metainfo['tasks']
    unannotated_tasks(tasks, len(dataset), coverage, problems, name)
    return report(name, len(dataset), tasks, coverage, problems, warn_kinds)


if __name__ == '__main__':
    sys.exit(main())
