"""Evaluate a checkpoint on a config's test split and print every metric.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.json]
        [--show-dir DIR] [--cfg-options k=v ...] [--unsafe-load]
        [--launcher none|pytorch|slurm]

CHECKPOINT is loaded without running code from it and must hold the weights
of CONFIG's model: a checkpoint of another config, one without weights and
an unreadable file stop with one line naming the file (exit status 2).
--unsafe-load opts in to full unpickling of files you trust.
With several processes (tools/dist_test.sh, tools/slurm_test.sh) the metrics
are gathered over all of them and --out is written once, by rank 0.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.dist import is_main_process  # noqa: E402

from mmmtl.apis import (add_runner_args, exit_on_user_error,  # noqa: E402
                        load_config, parse_runner_args, prepare_config)
from mmmtl.compat.dist import close_process_group  # noqa: E402
from mmmtl.engine import build_runner  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a multi-task model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save logs')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument(
        '--show-dir', help='write a PNG per image (predictions above ground '
        'truth for every task) into this folder')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


@exit_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_config(args.config, args.cfg_options)
    work_dir = args.work_dir
    if work_dir is None and cfg.get('work_dir', None) is None:
        work_dir = osp.join('./work_dirs', 'test_' + osp.splitext(
            osp.basename(args.config))[0])
    prepare_config(cfg, config_path=args.config, launcher=args.launcher,
                   work_dir=work_dir, unsafe_load=args.unsafe_load)
    if args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='PredictionVisualizationHook', out_dir=args.show_dir)]
    cfg.load_from = args.checkpoint
    cfg.resume = False
    runner = build_runner(cfg)
    metrics = runner.test()
    if args.out and is_main_process():
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
    close_process_group()
