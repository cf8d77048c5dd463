"""Training step of mmmtl's MTLoRA / TADFormer vs the official code's.

    python benchmarks/vs_official.py --method mtlora \\
        --official-repo PATH/TO/MTLoRA [--rank 64] [--size 448] [--batch 8] \\
        [--repeats 10] [--device cuda] \\
        [--out benchmarks/results/vs_official.json]

Builds both full multi-task models (Swin-T backbone, four PASCAL-Context
tasks with their decoders; the official one from a local checkout, as
``tools/analysis/parity_official.py`` does, with the same weights) and
times, round-robin in one run, a training step of each: forward, an MSE
loss of every task's output against fixed random targets, backward, AdamW
over the trainable parameters. Reports the fastest and median step of both
and the ratio ours / official (goal <= 1.0), plus CUDA peak memory on GPU.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict

import torch
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

import parity_official  # noqa: E402


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def make_step(forward: Callable, model: torch.nn.Module,
              targets: Dict[str, torch.Tensor]) -> Callable:
    """One training step of ``model`` (outputs keyed like ``targets``)."""
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step(x: torch.Tensor) -> None:
        optim.zero_grad(set_to_none=True)
        outs = forward(x)
        sum(F.mse_loss(outs[k], targets[k]) for k in targets).backward()
        optim.step()

    return step


def build_pair(args, device: str):
    """(ours_step, official_step) with the same weights."""
    official = parity_official.build_official(
        args.official_repo, args.method, args.rank, args.size, 'dynamic')
    ours = parity_official.build_ours(args.method, args.rank, 'dynamic')
    parity_official.copy_backbone(official, ours)
    parity_official.copy_adapters(args.method, official, ours, 'dynamic')
    parity_official.copy_heads(official, ours)
    official.to(device).train()
    ours.to(device).train()
    gen = torch.Generator().manual_seed(0)
    names = parity_official.TASKS
    targets = {task: torch.randn(args.batch, out, args.size, args.size,
                                 generator=gen).to(device)
               for task, (_, out) in names.items()}
    official_targets = {names[t][0]: v for t, v in targets.items()}

    def ours_forward(x):
        logits = ours._forward(x)
        return {t: F.interpolate(v, size=x.shape[2:], mode='bilinear',
                                 align_corners=False)
                for t, v in logits.items()}

    return (make_step(ours_forward, ours, targets),
            make_step(official, official, official_targets))


def measure(step: Callable, x: torch.Tensor, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    step(x)
    sync(device)
    return time.perf_counter() - start


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--method', required=True,
                        choices=['mtlora', 'tadformer'])
    parser.add_argument('--official-repo', required=True)
    parser.add_argument('--rank', type=int, default=64)
    parser.add_argument('--size', type=int, default=448)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--device', default='cuda'
                        if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default='benchmarks/results/vs_official.json')
    return parser.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    parity_official.register_all_modules()
    torch.manual_seed(0)
    ours, official = build_pair(args, args.device)
    x = torch.randn(args.batch, 3, args.size, args.size,
                    generator=torch.Generator().manual_seed(1)).to(args.device)
    times = {'mmmtl': [], 'official': []}
    steps = {'mmmtl': ours, 'official': official}
    for step in steps.values():  # warm-up
        step(x)
    peak = {}
    for _ in range(args.repeats):
        for name, step in steps.items():
            if args.device == 'cuda':
                torch.cuda.reset_peak_memory_stats()
            times[name].append(measure(step, x, args.device))
            if args.device == 'cuda':
                peak[name] = torch.cuda.max_memory_allocated() / 2**20
    result = dict(method=args.method, rank=args.rank, size=args.size,
                  batch=args.batch, repeats=args.repeats, device=args.device,
                  machine=(torch.cuda.get_device_name()
                           if args.device == 'cuda' else
                           f'{os.cpu_count()} cores, CPU'),
                  torch=torch.__version__)
    for name, values in times.items():
        result[f'{name}_step_s'] = min(values)
        result[f'{name}_step_median_s'] = statistics.median(values)
        if name in peak:
            result[f'{name}_peak_mb'] = peak[name]
    result['ratio_ours_official'] = (result['mmmtl_step_s'] /
                                     result['official_step_s'])
    print(json.dumps(result, indent=2))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
