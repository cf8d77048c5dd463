"""Convert an official (Microsoft) or timm Swin checkpoint to mmmtl's keys.

Usage::

    python tools/model_converters/swin2mmmtl.py SRC DST [--window-size N]

SRC may be ``.pth``/``.pt``/``.bin`` (optionally nested under ``state_dict``
or ``model``) or ``.safetensors``; DST is written as ``.safetensors`` when it
ends so, else with ``torch.save``. The result loads into ``SwinTransformer``
(mmseg) and ``SwinTransformerMTL`` without further conversion.
"""
import argparse

import torch

from mmmtl.models.backbones.swin_convert import (convert_swin_state_dict,
                                                 load_state_dict_file)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official/timm Swin checkpoint')
    parser.add_argument('dst', help='output path (.pth or .safetensors)')
    parser.add_argument(
        '--window-size', type=int, default=None,
        help='target window size; relative-position bias tables are '
        'interpolated (bicubic) to it, e.g. 12 for a window-7 checkpoint')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    state_dict, report = convert_swin_state_dict(
        load_state_dict_file(args.src), window_size=args.window_size)
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
