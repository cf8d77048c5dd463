"""Task-scaling benchmark: cost of the adapted backbone vs the number of tasks.

For each method and T in (1, 2, 4, 8) synthetic tasks, builds Swin-T (random
init) wrapped by the method (VMT and Polyhistor on mmseg's stage outputs;
MTLoRA and TADFormer, r = 16, on the merged stage outputs they are
published with), or, for the ``*_vit_s`` rows, a DINOv2 ViT-S/14 from timm
(taps after blocks 3/6/9/12 into the feature pyramid, dynamic image size),
and measures, in one run:

* training-step time: forward, backward of the sum of every task feature,
  AdamW step over the trainable parameters;
* inference time: forward under ``torch.no_grad`` in eval mode;
* peak memory: CUDA ``max_memory_allocated``; on CPU, in a fresh
  subprocess per (method, T), the peak resident set size (sampled every
  millisecond from /proc/self/statm) of one inference, then of one training
  step, above the size just before each.

Timings are the fastest of ``--repeats`` (medians are kept too), taken
round-robin over T so that slow drifts of the machine hit every T alike.
Ratios are vs T=1.

Example::

    python benchmarks/tasks_scaling.py \\
        --out benchmarks/results/tasks_scaling.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List

import torch

METHODS = dict(vmt=dict(type='VMTAdapter'),
               vmt_lite=dict(type='VMTAdapterLite'),
               mtlora=dict(type='MTLoRA', rank=16),
               tadformer=dict(type='TADFormer', rank=16),
               polyhistor=dict(type='Polyhistor'),
               polyhistor_lite=dict(type='PolyhistorLite'),
               vmt_vit_s=dict(type='VMTAdapter'),
               mtlora_vit_s=dict(type='MTLoRA', rank=16),
               polyhistor_vit_s=dict(type='Polyhistor'),
               lora_vit_s=dict(type='LoRA', rank=4))
MERGED_OUTPUTS = ('mtlora', 'tadformer')
VIT_S = dict(type='TimmMultiScaleBackbone',
             model_name='vit_small_patch14_dinov2', out_indices=(2, 5, 8, 11),
             model_kwargs=dict(dynamic_img_size=True))
NUM_TASKS = (1, 2, 4, 8)


def build(method: str, num_tasks: int, device: str) -> torch.nn.Module:
    """Swin-T (mmseg defaults) or DINOv2 ViT-S (``*_vit_s``) wrapped by
    ``method`` with ``num_tasks``."""
    from mmmtl.registry import MODELS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    tasks = tuple(f'task{i}' for i in range(num_tasks))
    if method.endswith('_vit_s'):
        module = VIT_S
    elif method in MERGED_OUTPUTS:
        module = dict(type='SwinTransformerMTL', out_after_downsample=True)
    else:
        module = dict(type='SwinTransformer')
    model = MODELS.build(dict(METHODS[method], tasks=tasks, module=module))
    return model.to(device)


def feature_sum(feats) -> torch.Tensor:
    """Sum over every task's every stage feature."""
    if isinstance(feats, dict):
        return sum(f.sum() for stages in feats.values() for f in stages)
    return sum(f.sum() for f in feats)


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def train_step(model, optim, x, device) -> float:
    """Seconds of one forward + backward + optimizer step."""
    model.train()
    sync(device)
    start = time.perf_counter()
    optim.zero_grad(set_to_none=True)
    feature_sum(model(x)).backward()
    optim.step()
    sync(device)
    return time.perf_counter() - start


def infer(model, x, device) -> float:
    """Seconds of one no-grad forward in eval mode."""
    model.eval()
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        model(x)
    sync(device)
    return time.perf_counter() - start


def rss_mb() -> float:
    """Current resident set size of this process (MB, Linux)."""
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


class RSSPeak:
    """Context manager sampling this process's resident set size every
    millisecond; ``peak_mb`` is the peak above the size at entry."""

    def __enter__(self) -> 'RSSPeak':
        self.base = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def peak_mb(self) -> float:
        return self.peak - self.base


def cpu_peak_memory(method: str, num_tasks: int, size: int,
                    batch: int) -> Dict[str, float]:
    """Run in a fresh process: peak RSS above the built model (MB)."""
    torch.manual_seed(0)
    model = build(method, num_tasks, 'cpu')
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(batch, 3, size, size)
    with RSSPeak() as infer_peak:
        infer(model, x, 'cpu')
    with RSSPeak() as train_peak:
        train_step(model, optim, x, 'cpu')
    return dict(infer_peak_mb=infer_peak.peak_mb,
                train_peak_mb=train_peak.peak_mb)


def measure_memory(method, num_tasks, size, batch, device) -> Dict[str, float]:
    """Peak memory of one inference and one training step (MB)."""
    if device == 'cuda':
        model = build(method, num_tasks, device)
        optim = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-4)
        x = torch.randn(batch, 3, size, size, device=device)
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        infer(model, x, device)
        infer_peak = torch.cuda.max_memory_allocated() - base
        torch.cuda.reset_peak_memory_stats()
        train_step(model, optim, x, device)
        train_peak = torch.cuda.max_memory_allocated() - base
        return dict(infer_peak_mb=infer_peak / 2**20,
                    train_peak_mb=train_peak / 2**20)
    out = subprocess.run(
        [sys.executable, __file__, '--memory-worker',
         f'{method},{num_tasks},{size},{batch}'],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_times(method: str, size: int, batch: int, repeats: int,
                  device: str) -> Dict[int, Dict[str, float]]:
    """Fastest (and median) step and inference times per T, round-robin.

    The minimum is the headline: on a shared machine noise only adds time.
    """
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size, device=device)
    models = {t: build(method, t, device) for t in NUM_TASKS}
    optims = {t: torch.optim.AdamW(
        [p for p in m.parameters() if p.requires_grad], lr=1e-4)
        for t, m in models.items()}
    steps: Dict[int, List[float]] = {t: [] for t in NUM_TASKS}
    infers: Dict[int, List[float]] = {t: [] for t in NUM_TASKS}
    for t in NUM_TASKS:  # warm-up
        train_step(models[t], optims[t], x, device)
        infer(models[t], x, device)
    for _ in range(repeats):
        for t in NUM_TASKS:
            steps[t].append(train_step(models[t], optims[t], x, device))
            infers[t].append(infer(models[t], x, device))
    return {t: dict(train_step_s=min(steps[t]),
                    infer_s=min(infers[t]),
                    train_step_median_s=statistics.median(steps[t]),
                    infer_median_s=statistics.median(infers[t]),
                    trainable_params=sum(
                        p.numel() for p in models[t].parameters()
                        if p.requires_grad))
            for t in NUM_TASKS}


def add_ratios(rows: Dict[int, Dict[str, float]]) -> None:
    """Add ``<key>_ratio`` (vs T=1) to every row."""
    first = rows[NUM_TASKS[0]]
    for row in rows.values():
        for key in ('train_step_s', 'infer_s', 'infer_peak_mb',
                    'train_peak_mb'):
            row[f'{key}_ratio'] = row[key] / first[key] if first[key] else 0


def plot(results: Dict, path: str) -> None:
    """Ratios vs T for every method and quantity (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = ('train_step_s', 'infer_s', 'train_peak_mb')
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    for ax, key in zip(axes, keys):
        for method, rows in results['methods'].items():
            ts = sorted(int(t) for t in rows)
            ax.plot(ts, [rows[t][f'{key}_ratio'] for t in ts], 'o-',
                    label=method)
        ax.axhline(1.15, color='grey', ls='--', lw=0.8)
        ax.set_xscale('log', base=2)
        ax.set_xticks(NUM_TASKS, [str(t) for t in NUM_TASKS])
        ax.set_xlabel('number of tasks T')
        ax.set_title(f'{key} / (T=1)')
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def machine(device: str) -> str:
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return (f'{platform.processor() or platform.machine()}, '
            f'{torch.get_num_threads()} threads, {os.cpu_count()} cores, CPU')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out',
                        default='benchmarks/results/tasks_scaling.json')
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--methods', default=','.join(METHODS))
    parser.add_argument('--device', default='cuda'
                        if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--memory-worker', help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.memory_worker:
        method, t, size, batch = args.memory_worker.split(',')
        print(json.dumps(cpu_peak_memory(method, int(t), int(size),
                                         int(batch))))
        return
    methods = args.methods.split(',')
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f'--methods: unknown {unknown}; known '
                         f'{sorted(METHODS)}')
    results = dict(machine=machine(args.device), device=args.device,
                   torch=torch.__version__, size=args.size, batch=args.batch,
                   repeats=args.repeats, backbone='mmseg SwinTransformer '
                   '(Swin-T defaults; SwinTransformerMTL with merged outputs '
                   'for MTLoRA and TADFormer), random init', methods={})
    for method in methods:
        rows = measure_times(method, args.size, args.batch, args.repeats,
                             args.device)
        for t in NUM_TASKS:
            rows[t].update(measure_memory(method, t, args.size, args.batch,
                                          args.device))
        add_ratios(rows)
        results['methods'][method] = rows
        for t in NUM_TASKS:
            row = rows[t]
            print(f'{method:9s} T={t}: step {row["train_step_s"]:.3f}s '
                  f'(x{row["train_step_s_ratio"]:.3f})  infer '
                  f'{row["infer_s"]:.3f}s (x{row["infer_s_ratio"]:.3f})  '
                  f'train peak {row["train_peak_mb"]:.0f} MB '
                  f'(x{row["train_peak_mb_ratio"]:.3f})', flush=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(results, f, indent=2)
    plot(results, osp.splitext(args.out)[0] + '.png')
    print(f'wrote {args.out} and {osp.splitext(args.out)[0]}.png')


if __name__ == '__main__':
    main()
