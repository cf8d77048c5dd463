"""Framework overhead: ``tools/train.py``-style training vs a bare loop.

In one run, on the same config-built model and the same batch, compares the
training step time of

* ``framework``: the runner of the config (:func:`mmmtl.engine.build_runner`,
  every default and custom hook of the config, logging every ``N``
  iterations for each ``N`` of ``--log-intervals``), fed by an in-memory
  loader that yields the same collated batch every iteration;
* ``bare``: a plain PyTorch loop over the preprocessed batch held in memory:
  ``model(inputs, samples, mode='loss')``, sum of the losses, backward,
  gradient clipping and AdamW with the config's settings.

Each mode runs ``--warmup`` + ``--iters`` iterations; the step time is the
wall time of the last ``--iters`` divided by their number. The modes are
run round-robin ``--rounds`` times (so that drifts of a shared machine hit
every mode alike) and the fastest round of each mode is kept (medians too).
Ratios are framework / bare.

A profiled framework run then times every hook call and the parts of the
model's ``train_step`` (data preprocessor, loss forward, ``parse_losses``,
optimizer update), and the real dataloader of the config is timed on its
own (data loading is not in the ratio: the bare loop has none).

Example::

    python benchmarks/framework_overhead.py \\
        --out benchmarks/results/framework_overhead_cpu.json
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from typing import Callable, Dict, Iterator, List, Optional

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmmtl.engine import build_runner, fill_dataset_tasks  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

DEFAULT_CONFIG = 'configs/vmt/vmt_swin_t_synthetic.py'
BARE_LOOP = ('preprocessed batch in memory; model(inputs, samples, '
             "mode='loss'), sum, backward, clip_grad_norm_, AdamW step, "
             'zero_grad')


class InMemoryLoader:
    """Yields the same collated ``batch`` forever; ``dataset`` and length
    are those of the loader it stands in for (hooks read them)."""

    def __init__(self, batch: dict, like) -> None:
        self.batch = batch
        self.dataset = like.dataset
        self.sampler = like.sampler
        self._len = len(like)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[dict]:
        while True:
            yield self.batch


def now() -> float:
    """``time.perf_counter()`` after the queued CUDA work, if any."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


class StepClock(Hook):
    """Records :func:`now` after every train iteration (lowest priority:
    after every other hook)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.stamps: List[float] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self.stamps.append(now())


def bench_config(config: str, work_dir: str, total_iters: int,
                 log_interval: int) -> Config:
    """The config with ``total_iters`` iterations, logging every
    ``log_interval``, no validation and no checkpoint saving."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=total_iters,
                         val_interval=total_iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook', by_epoch=False,
        interval=total_iters + 1, save_last=False)
    cfg.log_level = 'WARNING'
    return cfg


def take_batch(cfg: Config) -> dict:
    """The first collated batch of the config's train dataloader."""
    cfg = copy.deepcopy(cfg)
    fill_dataset_tasks(cfg)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    return next(iter(loader))


def step_time(stamps: List[float], warmup: int) -> float:
    """Seconds per iteration after the ``warmup`` first ones."""
    return (stamps[-1] - stamps[warmup - 1]) / (len(stamps) - warmup)


def build_framework(cfg: Config, batch: dict):
    """The runner of ``cfg`` with its train loop fed from memory."""
    runner = build_runner(cfg)
    loop = runner.build_train_loop(runner._train_loop)
    loop.dataloader = InMemoryLoader(batch, loop.dataloader)
    loop.dataloader_iterator = iter(loop.dataloader)
    runner._train_loop = loop
    return runner


def run_framework(cfg: Config, batch: dict, warmup: int) -> float:
    """Seconds per iteration of ``runner.train()``."""
    runner = build_framework(cfg, batch)
    clock = StepClock()
    runner.register_hook(clock)
    runner.train()
    return step_time(clock.stamps, warmup)


def bare_optimizer(cfg: Config, model: torch.nn.Module):
    """AdamW with the config's settings over the trainable parameters."""
    opt = dict(cfg.optim_wrapper.optimizer)
    if opt.pop('type') != 'AdamW':
        raise ValueError('the bare loop implements the AdamW of the config')
    params = [p for p in model.parameters() if p.requires_grad]
    return params, torch.optim.AdamW(params, **opt)


def run_bare(cfg: Config, batch: dict, warmup: int, iters: int) -> float:
    """Seconds per iteration of a plain PyTorch loop on the model built by
    the config's runner (weights initialised as in training)."""
    runner = build_runner(cfg)
    runner._init_model_weights()
    model = runner.model
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    inputs, samples = data['inputs'], data['data_samples']
    params, optimizer = bare_optimizer(cfg, model)
    max_norm = (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm')
    stamps = []
    for _ in range(warmup + iters):
        losses = model(inputs, samples, mode='loss')
        loss = sum(losses.values())
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        optimizer.step()
        optimizer.zero_grad()
        stamps.append(now())
    return step_time(stamps, warmup)


class CallTimer:
    """Accumulates seconds spent in wrapped callables, by name."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
        return timed

    def reset(self) -> None:
        self.seconds.clear()


class ProfileHook(StepClock):
    """Times ``update_params`` of the optim wrapper (built by then) from
    ``before_train`` on, and restarts ``timer`` after ``warmup``
    iterations."""

    def __init__(self, timer: CallTimer, warmup: int) -> None:
        super().__init__()
        self.timer = timer
        self.warmup = warmup

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        wrapper.update_params = self.timer.wrap('train_step.update_params',
                                                wrapper.update_params)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if len(self.stamps) == self.warmup:
            self.timer.reset()


def profile_framework(cfg: Config, batch: dict, warmup: int) -> dict:
    """Milliseconds per iteration (after ``warmup``) of every hook's
    ``*_train_iter`` call and of the parts of ``train_step``; ``other``
    is the rest of the step (loop, hook dispatch, ``train_step`` glue)."""
    runner = build_framework(cfg, batch)
    timer = CallTimer()
    for hook in runner.hooks:
        for stage in ('before_train_iter', 'after_train_iter'):
            name = f'{type(hook).__name__}.{stage}'
            setattr(hook, stage, timer.wrap(name, getattr(hook, stage)))
    model = runner.model
    model.data_preprocessor.forward = timer.wrap(
        'train_step.data_preprocessor', model.data_preprocessor.forward)
    model.forward = timer.wrap('train_step.loss_forward', model.forward)
    model.parse_losses = timer.wrap('train_step.parse_losses',
                                    model.parse_losses)
    clock = ProfileHook(timer, warmup)
    runner.register_hook(clock)
    runner.train()
    iters = len(clock.stamps) - warmup
    parts = {name: 1000 * sec / iters for name, sec in sorted(
        timer.seconds.items(), key=lambda item: -item[1])}
    total = 1000 * step_time(clock.stamps, warmup)
    parts['other'] = total - sum(parts.values())
    parts['total'] = total
    return parts


def time_dataloader(cfg: Config, iters: int) -> float:
    """Seconds per batch of the config's real train dataloader."""
    cfg = copy.deepcopy(cfg)
    fill_dataset_tasks(cfg)
    loader = iter(Runner.build_dataloader(cfg.train_dataloader, seed=0))
    next(loader)
    start = time.perf_counter()
    for _ in range(iters):
        next(loader)
    return (time.perf_counter() - start) / iters


def machine() -> dict:
    return dict(platform=platform.platform(), python=platform.python_version(),
                processor=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(),
                cuda=torch.cuda.get_device_name(0)
                if torch.cuda.is_available() else None)


def summarize(times: List[float]) -> dict:
    return dict(min_s=min(times), median_s=statistics.median(times),
                all_s=times)


def run(args: argparse.Namespace) -> dict:
    """The whole benchmark; returns the result dict."""
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    total = args.warmup + args.iters
    modes: Dict[str, Optional[int]] = {'bare': None}
    modes.update({f'framework_log{n}': n for n in args.log_intervals})
    times: Dict[str, List[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        base = bench_config(args.config, tmp, total, args.log_intervals[0])
        batch = take_batch(base)
        for round_ in range(args.rounds):
            for mode, interval in modes.items():
                work_dir = osp.join(tmp, f'{mode}_{round_}')
                torch.manual_seed(0)
                if interval is None:
                    cfg = bench_config(args.config, work_dir, total, 1)
                    times[mode].append(
                        run_bare(cfg, batch, args.warmup, args.iters))
                else:
                    cfg = bench_config(args.config, work_dir, total,
                                       interval)
                    times[mode].append(
                        run_framework(cfg, batch, args.warmup))
        profiles = {}
        for interval in args.log_intervals:
            cfg = bench_config(args.config, osp.join(tmp, f'prof{interval}'),
                               total, interval)
            profiles[f'framework_log{interval}'] = profile_framework(
                cfg, batch, args.warmup)
        data_s = time_dataloader(base, args.iters)
    steps = {mode: summarize(values) for mode, values in times.items()}
    bare = steps['bare']
    ratios = {mode: dict(min=s['min_s'] / bare['min_s'],
                         median=s['median_s'] / bare['median_s'])
              for mode, s in steps.items() if mode != 'bare'}
    return dict(
        config=args.config, bare_loop=BARE_LOOP, warmup=args.warmup,
        iters=args.iters,
        rounds=args.rounds, log_intervals=args.log_intervals,
        batch_size=len(batch['inputs']), machine=machine(),
        step_time=steps, ratio_framework_over_bare=ratios,
        profile_ms_per_iter=profiles,
        real_dataloader_s_per_batch=data_s)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--out', help='JSON file to write')
    parser.add_argument('--iters', type=int, default=30,
                        help='timed iterations per mode and round')
    parser.add_argument('--warmup', type=int, default=5,
                        help='iterations run before timing')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--log-intervals', type=int, nargs='+',
                        default=[10, 1],
                        help='LoggerHook intervals to compare')
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.iters < 1 or args.rounds < 1:
        parser.error('--warmup, --iters and --rounds must be >= 1')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    summary = {mode: round(r['min'], 3)
               for mode, r in result['ratio_framework_over_bare'].items()}
    print(f'framework / bare (fastest round): {summary}')
    return result


if __name__ == '__main__':
    main()
