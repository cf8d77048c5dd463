"""Write images of samples after the config's pipeline, with every task map.

    python tools/misc/browse_dataset.py CONFIG --out-dir DIR [--num N]
        [--split train|val] [--cfg-options k=v ...]

One PNG per sample: the (augmented) image, then each task's ground truth
(class palettes, normals as RGB, heat maps for depth and saliency), so one
can see that flips, crops and rotations keep the tasks aligned.
"""
import argparse
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from mmmtl.apis import load_config  # noqa: E402
from mmmtl.registry import DATASETS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402
from mmmtl.visualization import colorize_task_map, make_grid  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Browse a dataset')
    parser.add_argument('config', help='config file with *_dataloader')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--num', type=int, default=10,
                        help='number of samples')
    parser.add_argument('--split', default='train', choices=['train', 'val'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args(argv)


def render_sample(sample: dict, metainfo: dict):
    """uint8 RGB grid of the image and every task map of a packed sample."""
    image = sample['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
    tiles, titles = [image.copy()], ['image']
    gt_maps = sample['data_samples'].gt_maps
    for task in metainfo['tasks']:
        if task not in gt_maps:
            continue
        tiles.append(colorize_task_map(
            task, gt_maps.get(task), metainfo['num_classes'].get(task),
            metainfo.get('palette', {}).get(task)))
        titles.append(task)
    return make_grid(tiles, titles)


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    ds_cfg = cfg.get(f'{args.split}_dataloader')['dataset']
    dataset = DATASETS.build(ds_cfg)
    os.makedirs(args.out_dir, exist_ok=True)
    for idx in range(min(args.num, len(dataset))):
        sample = dataset[idx]
        img_id = dataset.get_data_info(idx)['img_id']
        grid = render_sample(sample, dataset.metainfo)
        path = osp.join(args.out_dir, f'{idx:04d}_{img_id}.png')
        cv2.imwrite(path, grid[..., ::-1])
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
