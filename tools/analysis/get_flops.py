"""FLOPs, parameters and inference speed of a config, per component.

    python tools/analysis/get_flops.py CONFIG [--shape H [W]]
        [--batch-size N] [--device cpu|cuda] [--counter auto|jit|ops]
        [--warmup N] [--repeats N] [--out report.json]
        [--cfg-options k=v ...]

Builds the model as ``tools/train.py`` would, without loading any weights
(FLOPs and speed do not depend on them, so a missing ``pretrained`` file
is fine), and prints one line per component: the backbone (one plain
pass), the adapters (everything the method adds to it), the neck, each
task head and the total, with GFLOPs of one forward of one image for all
tasks (mmengine's ``FlopAnalyzer``; see :mod:`mmmtl.analysis.flops` for the
counters and what each line includes), parameters and trainable
parameters (``param_report``). Then it times ``model.predict`` on the
device (``--repeats 0`` skips the timing).

The input size is ``--shape``, else the fixed size of the config's test
pipeline resize, else the synthetic dataset's image size, else 448x448.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmmtl.analysis import (COUNTERS, check_timing,  # noqa: E402
                            component_flops, component_rows,
                            format_complexity_report, inference_throughput,
                            param_report)
from mmmtl.apis import exit_on_user_error, load_config  # noqa: E402
from mmmtl.registry import MODELS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

DEFAULT_SHAPE = (448, 448)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs, parameters and inference speed of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input height and width (one value: square); '
                        "default: the config's test input size, else 448")
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per timed batch (FLOPs are per image)')
    parser.add_argument('--device', default=None,
                        help="'cpu', 'cuda' or 'cuda:N' (default: cuda if "
                        'available, else cpu)')
    parser.add_argument('--counter', default='auto', choices=COUNTERS,
                        help="FLOP counter: 'jit' (mmengine FlopAnalyzer), "
                        "'ops' (torch FlopCounterMode) or 'auto' (jit, "
                        'ops if the trace fails)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed batches before the timing')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed batches (0: no timing)')
    parser.add_argument('--out', help='also write the report as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args(argv)


def _fixed_resize(pipeline: Sequence[dict]) -> Optional[Tuple[int, int]]:
    """(H, W) of a resize to a fixed ``scale`` (w, h) without
    ``keep_ratio`` in ``pipeline``, else None."""
    for transform in pipeline:
        scale = transform.get('scale')
        if ('Resize' in str(transform.get('type')) and scale is not None
                and not transform.get('keep_ratio', False)):
            if isinstance(scale, int):
                return scale, scale
            return int(scale[1]), int(scale[0])
    return None


def config_input_shape(cfg: Config) -> Tuple[Tuple[int, int], str]:
    """The input (H, W) of the config's test data and where it came from:
    a fixed resize of the test pipeline, the synthetic dataset's ``size``,
    or :data:`DEFAULT_SHAPE` when neither is there."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    resized = _fixed_resize(dataset.get('pipeline', []))
    if resized is not None:
        return resized, 'the test pipeline resize'
    if isinstance(dataset.get('size'), int):
        return (dataset['size'], ) * 2, 'the test dataset image size'
    return DEFAULT_SHAPE, 'default, no fixed test size in the config'


def input_shape(args: argparse.Namespace,
                cfg: Config) -> Tuple[Tuple[int, int], str]:
    """``--shape`` (one value: square) or the config's test input size."""
    if args.shape is None:
        return config_input_shape(cfg)
    if len(args.shape) > 2 or min(args.shape) < 1:
        raise ValueError(f'--shape takes one or two positive sizes (H W), '
                         f'got {args.shape}')
    return (args.shape[0], args.shape[-1]), '--shape'


def select_device(name: Optional[str]) -> torch.device:
    """``name`` as a device (default: cuda if available, else cpu)."""
    if name is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f'--device {name!r} is not a device name '
                         "(use 'cpu', 'cuda' or 'cuda:N')") from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'--device {name}: this machine has no CUDA '
                         'device; use --device cpu')
    if device.type not in ('cpu', 'cuda'):
        raise ValueError(f'--device {name}: only cpu and cuda are '
                         'supported')
    return device


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    shape, shape_source = input_shape(args, cfg)
    device = select_device(args.device)
    if args.repeats:
        check_timing(args.batch_size, args.warmup, args.repeats)
    model = MODELS.build(cfg.model).to(device)
    params = param_report(model)
    counted = component_flops(model, shape, args.counter)
    report = dict(
        config=args.config, input_shape=list(shape),
        shape_source=shape_source, counter=counted['counter'],
        counter_name=counted['counter_name'],
        fallback_reason=counted['fallback_reason'],
        components=component_rows(model, counted['flops'], params),
        params=params, throughput=None)
    if args.repeats:
        report['throughput'] = inference_throughput(
            model, shape, args.batch_size, args.warmup, args.repeats)
    print(format_complexity_report(report))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
