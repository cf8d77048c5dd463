"""Print a config's parameter report without training.

    python tools/analysis/count_params.py CONFIG [--convention mmmtl|mtlora]
        [--out report.json] [--cfg-options k=v ...]

Builds the model as ``tools/train.py`` would (no weights are loaded) and
prints the same table ``ParamReportHook`` logs: backbone total, trainable
backbone and adapter parameters, heads per task, % of the backbone, and a
line saying what the headline number counts.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmengine.config import DictAction  # noqa: E402

from mmmtl.apis import exit_on_user_error, load_config  # noqa: E402
from mmmtl.models.adapters import format_param_report  # noqa: E402
from mmmtl.models.adapters import param_report  # noqa: E402
from mmmtl.registry import MODELS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--convention', default='mmmtl',
                        choices=['mmmtl', 'mtlora'],
                        help="headline: trainable backbone + adapters "
                        "('mmmtl') or every trainable parameter, decoders "
                        "included ('mtlora', the published MTLoRA/TADFormer "
                        'counts)')
    parser.add_argument('--out', help='also write the report as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    report = param_report(MODELS.build(cfg.model), args.convention)
    print(format_param_report(report))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
