"""Predict every task of a checkpoint on your own images and save pictures.

    python tools/infer.py CONFIG CHECKPOINT INPUT --out-dir DIR
        [--tasks T ...] [--device cpu|cuda|cuda:N] [--batch-size N]
        [--overlay] [--grid] [--save-npy] [--cfg-options k=v ...]
        [--unsafe-load]

INPUT is an image file or a folder (its image files, sorted). For each
image ``<stem>`` and task, DIR gets ``<stem>_<task>.png`` at the image's
size: palette colours for semseg / human parts, a heat map for saliency
and edges probabilities and for depth, RGB for normals. ``--overlay`` adds
``<stem>_<task>_overlay.png`` (label and saliency/edges maps blended on
the image), ``--grid`` ``<stem>_grid.png`` (the image and every task),
``--save-npy`` the raw arrays ``<stem>_<task>.npy``.

CHECKPOINT is loaded without running code from it and must hold the weights
of CONFIG's model. Errors (missing file, folder without images, unknown
task, checkpoint of another config) are one line, exit status 2. Image
files that cannot be read (empty, corrupted, not an image) are skipped
with a warning naming each; the others are written, and the run then ends
with one line listing the skipped files, exit status 2.
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from typing import List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmmtl.apis import (MultiTaskInferencer, collect_inputs,  # noqa: E402
                        exit_on_user_error, load_config)
from mmmtl.apis.inference import ImageReadError  # noqa: E402
from mmmtl.visualization import write_inference_outputs  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict every task on images and save pictures')
    parser.add_argument('config', help='config file of the checkpoint')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('input', help='an image file or a folder of images')
    parser.add_argument('--out-dir', required=True,
                        help='folder for the pictures (created)')
    parser.add_argument('--tasks', nargs='+',
                        help="tasks to save (default: all the model's)")
    parser.add_argument('--device',
                        help='cpu, cuda or cuda:N (default: cuda if any)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass')
    parser.add_argument('--overlay', action='store_true',
                        help='also blend label and saliency/edges maps on '
                        'the image (<stem>_<task>_overlay.png)')
    parser.add_argument('--grid', action='store_true',
                        help='also save the image and every task in one '
                        'picture (<stem>_grid.png)')
    parser.add_argument('--save-npy', action='store_true',
                        help='also save the raw arrays (<stem>_<task>.npy)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='UNSAFE: fully unpickle a checkpoint that holds types other '
        'than weights and mmengine training state; this runs code from the '
        'file, so use it only for files you trust')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> List[str]:
    """Run the tool; returns the paths written."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    inputs = collect_inputs(args.input)
    inferencer = MultiTaskInferencer(cfg, args.checkpoint, args.device,
                                     args.tasks, args.unsafe_load)
    os.makedirs(args.out_dir, exist_ok=True)
    written: List[str] = []
    skipped: List[ImageReadError] = []
    with warnings.catch_warnings():
        # the inferencer's warning per skipped file: one line each below
        warnings.filterwarnings('ignore', message='skipped ',
                                category=UserWarning)
        predictions = inferencer.iter_predictions(
            args.input, args.batch_size, progress=True, skipped=skipped)
        for pred in _reporting_skips(predictions, skipped):
            written += write_inference_outputs(
                args.out_dir, pred.name, pred.image, pred.maps,
                inferencer.num_classes, inferencer.palettes, args.overlay,
                args.grid, args.save_npy)
    done = len(inputs) - len(skipped)
    print(f'{done} image(s), tasks {", ".join(inferencer.tasks)}: '
          f'{len(written)} files in {args.out_dir}')
    if skipped:
        raise UnreadableImagesError(
            f'{len(skipped)} of {len(inputs)} image(s) could not be read '
            'and were skipped: ' + '; '.join(
                f'{exc.path} ({exc.reason})' for exc in skipped) +
            f'; the other {done} were written to {args.out_dir}')
    return written


class UnreadableImagesError(ValueError):
    """Some input images were skipped (the message lists them)."""


def _reporting_skips(predictions, skipped: List[ImageReadError]):
    """``predictions``, printing a warning line on stderr for each image
    added to ``skipped`` meanwhile."""
    reported = 0

    def report():
        nonlocal reported
        for exc in skipped[reported:]:
            print(f'\nwarning: skipped {exc.path}: {exc.reason}',
                  file=sys.stderr)
        reported = len(skipped)

    for pred in predictions:
        report()
        yield pred
    report()


if __name__ == '__main__':
    main()
