"""Write the methods x backbone families matrix into docs/en/backbones.md.

Every cell is built and trained for one step at a tiny size (see
``mmmtl/analysis/backbone_matrix.py``); the table between the page's
markers is replaced by the result. ``--check`` only compares.

Usage::

    python tools/analysis/backbone_matrix.py [--check]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmmtl.analysis.backbone_matrix import (build_matrix,  # noqa: E402
                                            render_markdown)
from mmmtl.utils import register_all_modules  # noqa: E402

PAGE = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'docs', 'en', 'backbones.md')
BEGIN, END = '<!-- matrix:begin -->\n', '<!-- matrix:end -->\n'


def replace_table(page: str, table: str) -> str:
    """``page`` with the text between the markers set to ``table``."""
    if BEGIN not in page or END not in page:
        raise SystemExit(f'{PAGE} lacks the markers {BEGIN.strip()} and '
                         f'{END.strip()}')
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + table + END + tail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='exit 1 if the page differs from the result')
    args = parser.parse_args(argv)
    register_all_modules()
    with open(PAGE) as f:
        page = f.read()
    updated = replace_table(page, render_markdown(build_matrix()))
    if args.check:
        if updated != page:
            print(f'{PAGE} is out of date: run '
                  'python tools/analysis/backbone_matrix.py')
            return 1
        print(f'{PAGE} is up to date')
        return 0
    with open(PAGE, 'w') as f:
        f.write(updated)
    print(f'wrote {PAGE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
