"""Activation checkpointing of adapted Swin blocks: memory and step time.

For each method (Swin-T, mmseg defaults, random init, T synthetic tasks;
MTLoRA and TADFormer on the merged stage outputs they are published with)
and each mode (blocks checkpointed or not, ``AdaptedBackbone.
set_block_checkpointing``), a fresh subprocess measures on CPU

* ``train_peak_mb``: the peak resident set size of the first training step
  (forward, backward of the sum of every task feature, AdamW step) above
  the size just before it: the kernel's high-water mark (``VmHWM`` of
  /proc/self/status), reset through /proc/self/clear_refs before the step.
  The children run with glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` (unless
  set): large tensors are then mapped and unmapped one by one, so the
  resident size follows the live tensors instead of keeping freed heap
  pages;
* ``saved_mb``: the activations autograd keeps for backward when the
  forward ends (unique storages seen by a ``saved_tensors_hooks`` pack
  hook, parameters excluded; checkpointed blocks bypass it: they keep their
  inputs, which are earlier blocks' outputs), a figure free of allocator
  noise;
* ``step_s``: the median training-step time over ``--repeats`` rounds, in
  one more process holding one model whose blocks are checkpointed every
  other step (after a warm-up step in each mode), so that the machine's
  drifts hit both modes alike.

Ratios are checkpointed / plain, per method, from one run. On a shared
machine timings are noisy; compare only figures of the same run.

Example::

    python benchmarks/grad_checkpointing.py \\
        --out benchmarks/results/grad_checkpointing_cpu.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Dict

import torch

METHODS = dict(lora=dict(type='LoRA', rank=4,
                         roles=('qkv', 'proj', 'fc1', 'fc2')),
               mtlora=dict(type='MTLoRA', rank=16),
               vmt=dict(type='VMTAdapter'),
               tadformer=dict(type='TADFormer', rank=16))
MERGED_OUTPUTS = ('mtlora', 'tadformer')


def build(method: str, num_tasks: int, checkpoint: bool) -> torch.nn.Module:
    """Swin-T wrapped by ``method``; blocks checkpointed or not."""
    from mmmtl.registry import MODELS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    tasks = tuple(f'task{i}' for i in range(num_tasks))
    module = (dict(type='SwinTransformerMTL', out_after_downsample=True)
              if method in MERGED_OUTPUTS else dict(type='SwinTransformer'))
    model = MODELS.build(dict(METHODS[method], tasks=tasks, module=module))
    model.set_block_checkpointing(checkpoint)
    return model.train()


def feature_sum(feats) -> torch.Tensor:
    """Sum over every (task's) stage feature."""
    if isinstance(feats, dict):
        return sum(f.sum() for stages in feats.values() for f in stages)
    return sum(f.sum() for f in feats)


def train_step(model, optim, x) -> float:
    """Seconds of one forward + backward + AdamW step."""
    start = time.perf_counter()
    optim.zero_grad(set_to_none=True)
    feature_sum(model(x)).backward()
    optim.step()
    return time.perf_counter() - start


def saved_mb(model, x) -> float:
    """MB of the unique non-parameter storages autograd saves for
    backward in one forward (the graph is then dropped)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: Dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        feature_sum(model(x))
    return sum(storages.values()) / 2**20


def status_mb(key: str) -> float:
    """A size field (kB) of /proc/self/status in MB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def measure(method: str, checkpoint: bool, num_tasks: int, size: int,
            batch: int, threads: int) -> Dict[str, float]:
    """Memory of one (method, mode), in this (fresh) process."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(method, num_tasks, checkpoint)
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(batch, 3, size, size)
    base = status_mb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the high-water mark VmHWM to the current RSS
    train_step(model, optim, x)
    peak = status_mb('VmHWM') - base
    return dict(train_peak_mb=peak, saved_mb=saved_mb(model, x))


def step_times(method: str, num_tasks: int, size: int, batch: int,
               threads: int, repeats: int) -> Dict[str, float]:
    """Median step time of each mode, the modes alternating."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(method, num_tasks, False)
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(batch, 3, size, size)
    times: Dict[bool, list] = {False: [], True: []}
    for round_ in range(repeats + 1):
        for checkpoint in (False, True):
            model.set_block_checkpointing(checkpoint)
            seconds = train_step(model, optim, x)
            if round_:
                times[checkpoint].append(seconds)
    return dict(plain=statistics.median(times[False]),
                checkpointed=statistics.median(times[True]))


def run_child(args, *child: str) -> Dict[str, float]:
    cmd = [sys.executable, __file__, '--child', *child,
           '--tasks', str(args.tasks), '--size', str(args.size),
           '--batch', str(args.batch), '--repeats', str(args.repeats),
           '--threads', str(args.threads)]
    env = dict(os.environ)
    env.setdefault('MALLOC_MMAP_THRESHOLD_', '65536')
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=osp.join(
        osp.dirname(__file__), 'results', 'grad_checkpointing_cpu.json'))
    parser.add_argument('--methods', default=','.join(METHODS))
    parser.add_argument('--tasks', type=int, default=4)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1: steadier on a shared CPU)')
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, mode = args.child
        if mode == 'time':
            out = step_times(method, args.tasks, args.size, args.batch,
                             args.threads, args.repeats)
        else:
            out = measure(method, mode == 'checkpointed', args.tasks,
                          args.size, args.batch, args.threads)
        print(json.dumps(out))
        return
    results = {}
    for method in args.methods.split(','):
        plain = run_child(args, method, 'plain')
        ckpt = run_child(args, method, 'checkpointed')
        times = run_child(args, method, 'time')
        plain['step_s'] = times['plain']
        ckpt['step_s'] = times['checkpointed']
        ratios = {key: ckpt[key] / plain[key] for key in plain}
        results[method] = dict(plain=plain, checkpointed=ckpt,
                               ratio=ratios)
        print(f'{method:9s} peak {plain["train_peak_mb"]:7.1f} -> '
              f'{ckpt["train_peak_mb"]:7.1f} MB, saved '
              f'{plain["saved_mb"]:7.1f} -> {ckpt["saved_mb"]:6.1f} MB, '
              f'step {plain["step_s"]:.2f} -> {ckpt["step_s"]:.2f} s '
              f'(x{ratios["step_s"]:.2f})', flush=True)
    report = dict(
        setup=dict(backbone='Swin-T (mmseg defaults), random init',
                   tasks=args.tasks, size=args.size, batch=args.batch,
                   repeats=args.repeats, device='cpu',
                   threads=args.threads,
                   malloc_mmap_threshold=os.environ.get(
                       'MALLOC_MMAP_THRESHOLD_', '65536'),
                   cpu=platform.processor() or platform.machine(),
                   cores=os.cpu_count(), torch=torch.__version__,
                   methods={m: METHODS[m] for m in results}),
        results=results)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
