"""Train a multi-task model from a config (mmsegmentation's CLI).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--amp-dtype float16|bfloat16] [--compile [BACKEND]]
        [--auto-scale-lr] [--cfg-options k=v ...] [--unsafe-load]
        [--launcher none|pytorch|slurm]

Checkpoints (--resume, load_from, init_cfg Pretrained) are loaded without
running code from them and must hold this config's weights
(mmmtl.engine.MultiTaskRunner); --unsafe-load opts in to full unpickling of
files you trust. --amp is fp16 on CUDA; --amp --amp-dtype bfloat16 also runs
on CPU; --compile torch.compiles the train step (docs/en/speed.md).

SIGTERM/SIGINT (slurm's scancel, Ctrl-C) stop after the current iteration
with its checkpoint saved and the work dir released (exit status 143/130);
--resume continues from it (docs/en/reliability.md).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmmtl.apis import (add_runner_args, add_speed_args,  # noqa: E402
                        apply_speed_options, exit_on_user_error, load_config,
                        parse_runner_args, prepare_config)
from mmmtl.compat.dist import close_process_group  # noqa: E402
from mmmtl.engine import build_runner, check_work_dir_free  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a multi-task model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work '
        'dir when no path is given')
    add_speed_args(parser)
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by (world size x batch per GPU) / '
        'auto_scale_lr.base_batch_size of the config')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config, args.cfg_options)
    prepare_config(cfg, config_path=args.config, launcher=args.launcher,
                   work_dir=args.work_dir, unsafe_load=args.unsafe_load)
    apply_speed_options(cfg, args)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg, args.config)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def enable_auto_scale_lr(cfg: Config, config_path: str) -> None:
    """Turn on mmengine's LR scaling; the config must say which total
    batch its learning rate was set for."""
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    if not base:
        raise SystemExit(
            f'--auto-scale-lr: {config_path} has no '
            'auto_scale_lr.base_batch_size (the total batch its learning '
            "rate was set for); add auto_scale_lr = dict(base_batch_size=N)")
    cfg.auto_scale_lr.enable = True


@exit_on_user_error
def main(argv=None) -> Runner:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    # refuse a work dir that a live run holds before the runner writes
    # its <timestamp> log dir there
    check_work_dir_free(cfg.work_dir)
    runner = build_runner(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
    close_process_group()
