"""Convert an official (Microsoft) or timm Swin checkpoint to mmmtl's keys.

Usage::

    python tools/model_converters/swin2mmmtl.py SRC DST [--window-size N]
        [--unsafe-load]

SRC may be ``.pth``/``.pt``/``.bin`` (optionally nested under ``state_dict``
or ``model``) or ``.safetensors``; DST is written as ``.safetensors`` when it
ends so, else with ``torch.save``. The result loads into ``SwinTransformer``
(mmseg) and ``SwinTransformerMTL`` without further conversion.

Pickled files are loaded without running code from them (``--unsafe-load``:
trusted files only). Errors (missing, unreadable or refused file, not a
Swin state dict) are one line, exit status 2.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

import torch  # noqa: E402

from mmmtl.apis import exit_on_user_error  # noqa: E402
from mmmtl.compat.checkpoint import checkpoint_loading  # noqa: E402
from mmmtl.models.backbones.swin_convert import (  # noqa: E402
    convert_swin_state_dict, load_state_dict_file)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official/timm Swin checkpoint')
    parser.add_argument('dst', help='output path (.pth or .safetensors)')
    parser.add_argument(
        '--window-size', type=int, default=None,
        help='target window size; relative-position bias tables are '
        'interpolated (bicubic) to it, e.g. 12 for a window-7 checkpoint')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='UNSAFE: fully unpickle a checkpoint that holds types other '
        'than weights; this runs code from the file, so use it only for '
        'files you trust')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> None:
    args = parse_args(argv)
    with checkpoint_loading(unsafe=args.unsafe_load):
        source = load_state_dict_file(args.src)
    state_dict, report = convert_swin_state_dict(
        source, window_size=args.window_size)
    report.source = args.src
    state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    if args.dst.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file(state_dict, args.dst)
    else:
        torch.save(state_dict, args.dst)
    print(report.summary())
    print(f'wrote {len(state_dict)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
