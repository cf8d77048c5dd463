"""Exact parameter counts of many configs, in both counting conventions.

    python tools/analysis/count_configs.py configs/*/*_swin_t_pascal.py \
        [--out counts.json] [--markdown]

Builds each model from its config (no weights are loaded) and prints one
row per config: trainable backbone-side parameters (adapters included, the
``mmmtl`` convention) and their percentage of the plain backbone, every
trainable parameter with the task decoders (the ``mtlora`` convention of
the published MTLoRA / TADFormer counts), and the plain backbone's size.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmmtl.apis import load_config  # noqa: E402
from mmmtl.models.adapters import param_report  # noqa: E402
from mmmtl.registry import MODELS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402


def count_config(path: str) -> Dict:
    """Counts of the model ``path`` builds: ``backbone_trainable``,
    ``backbone_trainable_pct``, ``total_trainable``, ``backbone_total``."""
    cfg = load_config(path, None)
    backbone = cfg.model.backbone
    swin = backbone.get('module', backbone)
    swin['pretrained'] = None
    report = param_report(MODELS.build(cfg.model), convention='mtlora')
    return dict(config=path,
                backbone_trainable=report['backbone_trainable'],
                backbone_trainable_pct=report['backbone_trainable_pct'],
                total_trainable=report['total_trainable'],
                backbone_total=report['backbone_total'])


def markdown(rows: List[Dict]) -> str:
    """The rows as a markdown table."""
    lines = ['| config | trainable backbone side (% of backbone) | '
             'trainable with decoders |', '|---|---:|---:|']
    for row in rows:
        lines.append(
            f"| `{row['config']}` | {row['backbone_trainable']:,} "
            f"({row['backbone_trainable_pct']:.2f} %) | "
            f"{row['total_trainable']:,} |")
    return '\n'.join(lines)


def main(argv=None) -> List[Dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--out', help='write the rows as JSON')
    parser.add_argument('--markdown', action='store_true',
                        help='print a markdown table')
    args = parser.parse_args(argv)
    register_all_modules(init_default_scope=True)
    rows = [count_config(path) for path in args.configs]
    if args.markdown:
        print(markdown(rows))
    else:
        for row in rows:
            print(f"{row['config']}: backbone side "
                  f"{row['backbone_trainable']:,} "
                  f"({row['backbone_trainable_pct']:.2f} %), with decoders "
                  f"{row['total_trainable']:,}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == '__main__':
    main()
