"""Tiny configs with a "pretrained" Swin file, for the adapter-only
checkpoint tests (tests/test_engine, tests/test_tools).

The frozen backbone must be the same in every run, so each config points
``pretrained`` at a tiny mmseg-layout Swin checkpoint written by
:func:`write_pretrained_swin` (random weights from a fixed seed).
"""
from pathlib import Path

import torch

from mmmtl.models.backbones.swin import SwinTransformerMTL
from repo_files import REPO

TASKS = ('semseg', 'depth')
SWIN = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
            window_size=2, drop_path_rate=0.0)
VMT = "type='VMTAdapter', bottleneck=4"
LORA = "type='LoRA', rank=2, alpha=4.0, roles=('qkv', 'proj', 'fc1', 'fc2')"


def write_pretrained_swin(path: Path, seed: int) -> Path:
    """A tiny Swin (:data:`SWIN`, random weights from ``seed``) saved as
    an mmseg-layout ``.pth``."""
    torch.manual_seed(seed)
    swin = SwinTransformerMTL(**SWIN)
    torch.save(dict(state_dict=swin.state_dict()), path)
    return path


def write_config(path: Path, data_root: Path, pretrained: Path,
                 method: str = VMT, adapter_only: bool = False,
                 max_iters: int = 4) -> Path:
    """A tiny synthetic experiment: ``method`` around the tiny Swin loaded
    from ``pretrained``, tasks :data:`TASKS`, 32-pixel images, seed 0,
    no validation, checkpoints every 2 iterations (adapter-only with
    ``adapter_only``)."""
    swin = ', '.join(f'{k}={v!r}' for k, v in SWIN.items())
    heads = ',\n'.join(
        f'        {t}=dict(head=dict(channels=[4, 4, 4, 4]))' for t in TASKS)
    path.write_text(f"""
_base_ = ['{REPO / 'configs/vmt/vmt_swin_t_synthetic.py'}']
model = dict(
    backbone=dict(_delete_=True, {method}, module=dict(
        type='SwinTransformerMTL', {swin}, pretrained='{pretrained}')),
    task_names={TASKS},
    tasks=dict(
{heads}))
data = dict(data_root='{data_root}', num_train=4, num_val=2, size=32)
train_dataloader = dict(batch_size=2, dataset=data)
val_dataloader = dict(batch_size=2, dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_iters={max_iters}, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=2, adapter_only={adapter_only}),
                     logger=dict(interval=1))
randomness = dict(seed=0)
""")
    return path
