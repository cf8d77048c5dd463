"""Generate the synthetic multi-task dataset (PASCAL-Context layout + depth).

    python tools/misc/make_synthetic_dataset.py [--out DIR] [--num-train N]
        [--num-val N] [--size S] [--seed S]

Without ``--out`` the data go to the cache folder that
``SyntheticMultiTaskDataset(data_root=None)`` reads for the same parameters.
"""
import argparse
import os.path as osp
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmmtl.datasets.synthetic import (ensure_synthetic_dataset,  # noqa: E402
                                      synthetic_cache_root)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic multi-task dataset')
    parser.add_argument('--out', help='output folder (default: the cache '
                        'folder the synthetic dataset config reads)')
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument('--num-val', type=int, default=32)
    parser.add_argument('--size', type=int, default=128,
                        help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    params = dict(num_train=args.num_train, num_val=args.num_val,
                  size=args.size, seed=args.seed)
    out = args.out or str(synthetic_cache_root(**params))
    if osp.exists(out):
        print(f'{out} already exists; nothing to do')
        return 0
    start = time.time()
    ensure_synthetic_dataset(out, **params)
    print(f'wrote {args.num_train} train + {args.num_val} val images of '
          f'{args.size}x{args.size} to {out} in {time.time() - start:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
