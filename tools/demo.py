"""The README demo: train and evaluate VMT-Adapter on the synthetic dataset.

Generates the synthetic multi-task dataset (if absent), evaluates the
freshly initialised model, trains it on CPU, evaluates it again, re-tests the
saved checkpoint with ``tools/test.py`` and prints, per task, the metrics
before and after training and Δm against the configured single-task
baselines.

    python tools/demo.py [--config CFG] [--work-dir DIR] [--cfg-options ...]
"""
import argparse
import math
import os.path as osp
import sys
from typing import Dict

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmmtl.apis import load_config, prepare_config  # noqa: E402
from mmmtl.engine import build_runner  # noqa: E402
from mmmtl.evaluation import is_lower_better  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

DEFAULT_CONFIG = 'configs/vmt/vmt_swin_t_synthetic.py'
# metrics that must at least double through training (issue: foundation)
MUST_DOUBLE = ('semseg/mIoU', 'saliency/mIoU')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def format_row(key: str, before: float, after: float) -> str:
    lower_better = is_lower_better(key.split('/')[-1])
    improved = after < before if lower_better else after > before
    direction = 'lower' if lower_better else 'higher'
    return (f'{key:<22}{before:>12.2f}{after:>12.2f}  '
            f'{"improved" if improved else "NOT improved"} ({direction} is '
            'better)')


def summarise(before: Dict[str, float], after: Dict[str, float],
              retested: Dict[str, float]) -> bool:
    """Print the before/after table; returns whether the demo succeeded."""
    print('\n' + '=' * 78)
    print(f'{"metric":<22}{"untrained":>12}{"trained":>12}')
    print('-' * 78)
    for key in after:
        if key in before and key != 'delta_m':
            print(format_row(key, before[key], after[key]))
    print('-' * 78)
    ok = True
    if 'delta_m' in after:
        print(f'Δm vs single-task baselines: untrained '
              f'{before.get("delta_m", float("nan")):+.2f} %, trained '
              f'{after["delta_m"]:+.2f} %')
    for key in MUST_DOUBLE:
        if key in after and key in before:
            doubled = after[key] >= 2 * before[key]
            ok &= doubled
            print(f'{key}: trained >= 2 x untrained: '
                  f'{"yes" if doubled else "NO"}')
    same = all(math.isclose(retested[k], after[k], rel_tol=0, abs_tol=1e-9)
               for k in after)
    ok &= same
    print('tools/test.py on the saved checkpoint reproduces the final '
          f'metrics exactly: {"yes" if same else "NO"}')
    print('=' * 78)
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    prepare_config(cfg, config_path=args.config, work_dir=args.work_dir)
    max_iters = cfg.train_cfg.max_iters
    cfg.train_cfg.val_interval = max_iters + 1  # evaluated below instead
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='ValidateBeforeTrainHook')]

    runner = build_runner(cfg)
    runner.train()
    before = runner.message_hub.get_info('initial_metrics')
    after = dict(runner.val_loop.run())

    from tools.test import main as test_main
    checkpoint = osp.join(cfg.work_dir, f'iter_{max_iters}.pth')
    retested = dict(test_main([args.config, checkpoint, '--work-dir',
                               osp.join(cfg.work_dir, 'test')] +
                              _cfg_option_args(args.cfg_options)))
    return 0 if summarise(before, after, retested) else 1


def _cfg_option_args(options) -> list:
    if not options:
        return []
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


if __name__ == '__main__':
    sys.exit(main())
