"""Parity of mmmtl's MTLoRA / TADFormer with the official implementations.

    python tools/analysis/parity_official.py --method mtlora \\
        --official-repo PATH/TO/MTLoRA [--ranks 16 32 64] [--out parity.json]
    python tools/analysis/parity_official.py --method tadformer \\
        --official-repo PATH/TO/TADFormer [--task-filter dynamic static]

For every rank (and TADFormer task filter) it builds the official
multi-task model (Swin-T, 448x448, PASCAL-Context tasks semseg / human
parts / saliency / normals) from a local checkout of the official
repository, fills every parameter and BN statistic with seeded random
values (LoRA B matrices, gates and filters included, so every path
matters), copies the weights into mmmtl's model built from the same
settings, runs both in eval mode on the same random images and reports

* the max abs difference of every task's output (the decoder logits
  upsampled to the input, as the official model returns them) and of every
  task's stage features, target <= 1e-4 in fp32;
* the trainable-parameter count of both (the official training script's
  freezing vs mmmtl's ``param_report(convention='mtlora')``) and the
  published count.

Nothing of the official code is copied or needed by the test suite: its
``models`` package is imported from ``--official-repo``. Modules its files
import but never use in the parts built here (``ptflops``, ``click``) are
stubbed when missing; TADFormer needs ``einops``.

The official repositories: https://github.com/scale-lab/MTLoRA and
https://github.com/Min100KM/TADFormer.
"""
import argparse
import importlib
import json
import os.path as osp
import sys
import types
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from mmmtl.models.adapters import param_report  # noqa: E402
from mmmtl.models.backbones.swin_convert import \
    convert_swin_state_dict  # noqa: E402
from mmmtl.registry import MODELS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

# mmmtl task name -> (official name, output channels)
TASKS = dict(semseg=('semseg', 21), human_parts=('human_parts', 7),
             saliency=('sal', 1), normals=('normals', 3))
PUBLISHED = dict(mtlora={16: 4.95, 32: 6.08, 64: 8.34},
                 tadformer={16: 3.56, 32: 4.78, 64: 7.38})
OFFICIAL_BACKBONE = dict(mtlora=('models.swin_transformer_mtlora',
                                 'SwinTransformerMTLoRA'),
                         tadformer=('models.swin_transformer_tadformer',
                                    'SwinTransformerTADFormer'))
DEPTHS = (2, 2, 6, 2)
TOLERANCE = 1e-4


class Cfg(dict):
    """A dict with attribute access, standing in for the official yacs
    configs (only the keys their model code reads)."""

    __getattr__ = dict.__getitem__


def import_official(repo: str, method: str) -> Tuple[types.ModuleType, ...]:
    """The official ``models.swin_mtl``, backbone and ``models.lora``."""
    for name in ('ptflops', 'click'):
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.get_model_complexity_info = stub.prompt = None
            sys.modules[name] = stub
    for name in [m for m in sys.modules
                 if m == 'models' or m.startswith('models.')]:
        del sys.modules[name]
    sys.path.insert(0, osp.abspath(repo))
    try:
        mtl = importlib.import_module('models.swin_mtl')
        backbone = importlib.import_module(OFFICIAL_BACKBONE[method][0])
        lora = importlib.import_module('models.lora')
    finally:
        sys.path.pop(0)
    return mtl, backbone, lora


def official_cfg(method: str, rank: int, size: int) -> Tuple[Cfg, Cfg]:
    """The model config (MultiTaskSwin) and the method config."""
    names = [official for official, _ in TASKS.values()]
    common = Cfg(
        TASKS=names,
        TASKS_CONFIG=Cfg(ALL_TASKS=Cfg(NUM_OUTPUT=Cfg(
            {official: out for official, out in TASKS.values()}))),
        MODEL=Cfg(DECODER_CHANNELS=[18, 36, 72, 144],
                  DECODER_DOWNSAMPLER=True, PER_TASK_DOWNSAMPLER=True,
                  DECODER_HEAD=Cfg({n: 'hrnet' for n in names}),
                  SWIN=Cfg(WINDOW_SIZE=7)),
        DATA=Cfg(IMG_SIZE=size))
    shared = dict(R=[rank] * 4, SHARED_SCALE=[4.0] * 4, DROPOUT=[0.05] * 4,
                  TRAINABLE_SCALE_SHARED=False,
                  INTERMEDIATE_SPECIALIZATION=False, SHARED_MODE='matrix',
                  ENABLED=True)
    if method == 'mtlora':
        spec = Cfg(shared, TRAINABLE_SCALE_PER_TASK=False, QKV_ENABLED=True,
                   PROJ_ENABLED=True, FC1_ENABLED=True, FC2_ENABLED=True,
                   DOWNSAMPLER_ENABLED=False,
                   R_PER_TASK_LIST=[dict(shared=rank, **{n: 4
                                                         for n in names})] * 4,
                   SCALE_PER_TASK_LIST=[{n: 4.0 for n in names}] * 4)
        common.MODEL['MTLORA'] = spec
    else:
        spec = Cfg(shared, DTF=Cfg(ENABLED=True),
                   TPC=Cfg(ENABLED=True, PROMPT_CFG=Cfg(PERTASK_LEN=1)),
                   ABLATION=Cfg(SKIPCONNECTION=True, STAGEWISEGATING=True))
        common.MODEL['TADMTL'] = spec
    return common, spec


def build_official(repo: str, method: str, rank: int, size: int,
                   task_filter: str) -> nn.Module:
    """The official MultiTaskSwin, frozen as its training script does."""
    mtl, backbone_module, lora = import_official(repo, method)
    cfg, spec = official_cfg(method, rank, size)
    backbone_cls = getattr(backbone_module, OFFICIAL_BACKBONE[method][1])
    kwargs = dict(img_size=size, num_classes=0, drop_path_rate=0.2,
                  tasks=cfg.TASKS)
    if method == 'mtlora':
        backbone = backbone_cls(mtlora=spec, **kwargs)
    else:
        backbone = backbone_cls(tadmtl=spec, prompt_cfg=spec.TPC.PROMPT_CFG,
                                **kwargs)
        if task_filter == 'dynamic':
            share_dynamic_filters(backbone, lora, cfg.TASKS)
    model = mtl.MultiTaskSwin(backbone, cfg)
    lora.mark_only_lora_as_trainable(
        model.backbone, bias='none',
        freeze_downsample_reduction=method == 'tadformer')
    return model


def share_dynamic_filters(backbone: nn.Module, lora: types.ModuleType,
                          tasks: List[str]) -> None:
    """The paper's DTF: the construction the released code comments out
    (one ``DTF`` per adapted layer, used by every task) in place of its
    per-task static filters."""
    for module in backbone.modules():
        if isinstance(module, lora.TAModuleLinear) and \
                module.lora_filter is not None:
            dtf = lora.DTF(module.shared_r, kernel_size=3, stride=1,
                           padding=1, groups=module.shared_r)
            module.lora_filter = nn.ModuleDict({t: dtf for t in tasks})


def randomise(model: nn.Module, seed: int = 0) -> None:
    """Seeded random values where the official init leaves zeros or
    constants: LoRA B matrices (and the other LoRA / filter parameters),
    N(0, 0.02^2) like a trained adapter's small updates; stage gates
    N(0, 1); BN statistics. Prompts keep their init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'lora_' in name and not name.endswith(('_A', '.mean', '.std')):
                param.copy_(0.02 * torch.randn(param.shape, generator=gen))
            elif name.endswith('prompt_gate'):
                param.copy_(torch.randn(param.shape, generator=gen))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(
                    0.1 * torch.randn(module.num_features, generator=gen))
                module.running_var.copy_(
                    0.5 + torch.rand(module.num_features, generator=gen))


def build_ours(method: str, rank: int, task_filter: str) -> nn.Module:
    """mmmtl's segmentor with the official settings."""
    swin = dict(type='SwinTransformerMTL', embed_dims=96,
                depths=list(DEPTHS), num_heads=[3, 6, 12, 24], window_size=7,
                drop_path_rate=0.2, out_after_downsample=True)
    if method == 'mtlora':
        backbone = dict(type='MTLoRA', module=swin, rank=rank)
    else:
        backbone = dict(type='TADFormer', module=swin, rank=rank,
                        task_filter=task_filter, skip_layout='released',
                        released_prompt_norms=True)
    head = dict(type='MultiScaleFusionHead',
                in_channels=[192, 384, 768, 768], channels=[18, 36, 72, 144])
    tasks = {task: dict(head=dict(head, out_channels=out),
                        loss=dict(type='PixelCrossEntropyLoss'))
             for task, (_, out) in TASKS.items()}
    return MODELS.build(dict(type='MultiTaskSegmentor', backbone=backbone,
                             tasks=tasks))


def lora_sites() -> List[Tuple[str, str]]:
    """(official module name, mmmtl adapter key) of every LoRA site."""
    sites = []
    for i, depth in enumerate(DEPTHS):
        for j in range(depth):
            off, ours = f'layers.{i}.blocks.{j}', f'stages_{i}_blocks_{j}'
            sites += [(f'{off}.attn.qkv', f'{ours}_attn_w_msa_qkv'),
                      (f'{off}.attn.proj', f'{ours}_attn_w_msa_proj'),
                      (f'{off}.mlp.fc1', f'{ours}_ffn_layers_0_0'),
                      (f'{off}.mlp.fc2', f'{ours}_ffn_layers_1')]
    return sites


def copy_backbone(official: nn.Module, ours: nn.Module) -> None:
    """Frozen Swin weights (plus norms, tables, embedding)."""
    state = {}
    for key, value in official.backbone.state_dict().items():
        if any(k in key for k in ('lora_', 'prompt', 'filter')):
            continue
        state[key.replace('.linear.', '.')] = value
    converted, _ = convert_swin_state_dict(state, window_size=7,
                                           num_stages=len(DEPTHS))
    target = ours.backbone.module
    missing = [k for k in target.state_dict() if k not in converted and
               not k.endswith('relative_position_index')]
    if missing:
        raise RuntimeError(f'backbone keys without a value: {missing[:5]}')
    target.load_state_dict(
        {k: v for k, v in converted.items() if k in target.state_dict()},
        strict=False)


def copy_adapters(method: str, official: nn.Module, ours: nn.Module,
                  task_filter: str) -> None:
    """LoRA, task LoRA, filters, prompts, gates into mmmtl's modules."""
    names = [official_name for official_name, _ in TASKS.values()]
    adapters = ours.backbone.adapters
    with torch.no_grad():
        for off_name, key in lora_sites():
            off = official.backbone.get_submodule(off_name)
            mine = adapters[key]
            mine.lora_a.copy_(off.lora_shared_A)
            mine.lora_b.copy_(off.lora_shared_B)
            if method == 'mtlora' and getattr(mine, 'task_rank', 0):
                for t, name in enumerate(names):
                    mine.task_a[t].copy_(off.lora_tasks_A[name])
                    mine.task_b[t].copy_(off.lora_tasks_B[name])
            if method == 'tadformer':
                copy_tadformer_site(off, mine, names, task_filter)
        if method == 'tadformer':
            copy_prompt_bank(official, ours)


def copy_tadformer_site(off: nn.Module, mine: nn.Module, names: List[str],
                        task_filter: str) -> None:
    if off.lora_filter is not None:
        if task_filter == 'dynamic':
            dtf = off.lora_filter[names[0]]
            mine.filter.conv.load_state_dict(dtf.conv.state_dict())
            mine.filter.norm_std.copy_(dtf.chan_FilterNorm.std)
            mine.filter.norm_mean.copy_(dtf.chan_FilterNorm.mean)
        else:
            for t, name in enumerate(names):
                conv = off.lora_filter[name].conv2d
                mine.filter.weight[t].copy_(conv.weight)
                mine.filter.bias[t].copy_(conv.bias)
    if hasattr(off, 'prompt_layernorm') and hasattr(mine, 'prompt_norm'):
        mine.prompt_norm.load_state_dict(off.prompt_layernorm.state_dict())


def copy_prompt_bank(official: nn.Module, ours: nn.Module) -> None:
    bank = ours.backbone.shared['prompts']
    backbone = official.backbone
    bank.tokens.copy_(backbone.task_prompts)
    unused = iter(bank.unused_norms)
    for i, layer in enumerate(backbone.layers):
        bank.gates[i].copy_(layer.prompt_gate[0])
        if layer.downsample is not None:
            bank.up[str(i)].weight.copy_(
                layer.downsample.task_prompts_up.weight)
        for j, block in enumerate(layer.blocks):
            if j != len(layer.blocks) - 1:
                next(unused).load_state_dict(
                    block.attn.proj.prompt_layernorm.state_dict())


def copy_heads(official: nn.Module, ours: nn.Module) -> None:
    """Per-task 1x1 downsamplers and HRNet heads into MultiScaleFusionHead.
    """
    for task, (name, _) in TASKS.items():
        head = ours.heads[task]
        down = official.downsampler[name]
        dec = official.decoders.decoders[name].last_layer
        for k, reduce in enumerate(head.reduce):
            reduce.conv.load_state_dict(
                getattr(down, f'downsample_{k}').state_dict())
        head.fuse.conv.load_state_dict(dec[0].state_dict())
        head.fuse.bn.load_state_dict(dec[1].state_dict())
        head.cls.load_state_dict(dec[3].state_dict())


def official_stage_features(official: nn.Module,
                            x: torch.Tensor) -> Dict[str, List[torch.Tensor]]:
    """Each task's four stage features as (B, C, H, W)."""
    stages = official.backbone(x, return_stages=True)
    feats = {task: [] for task in TASKS}
    for _, per_task in stages:
        for task, (name, _) in TASKS.items():
            tokens = per_task[name]
            side = int(round(tokens.shape[1]**0.5))
            feats[task].append(tokens.transpose(1, 2).reshape(
                tokens.shape[0], -1, side, side))
    return feats


def compare(method: str, repo: str, rank: int, task_filter: str, size: int,
            batch: int, seed: int) -> Dict:
    """One row of the parity table."""
    torch.manual_seed(seed)
    official = build_official(repo, method, rank, size, task_filter)
    randomise(official, seed)
    ours = build_ours(method, rank, task_filter)
    copy_backbone(official, ours)
    copy_adapters(method, official, ours, task_filter)
    copy_heads(official, ours)
    official.eval()
    ours.eval()
    x = torch.randn(batch, 3, size, size,
                    generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        ref_out = official(x)
        ref_feats = official_stage_features(official, x)
        feats = ours.backbone(x)
        logits = ours._forward(x)
    row = dict(method=method, rank=rank, size=size, batch=batch,
               outputs={}, features={})
    if method == 'tadformer':
        row['task_filter'] = task_filter
    for task, (name, _) in TASKS.items():
        out = F.interpolate(logits[task], size=(size, size), mode='bilinear',
                            align_corners=False)
        row['outputs'][task] = float((out - ref_out[name]).abs().max())
        row['features'][task] = max(
            float((a - b).abs().max())
            for a, b in zip(feats[task], ref_feats[task]))
    row['max_abs_diff'] = max(row['outputs'].values())
    row['trainable_official'] = sum(p.numel() for p in official.parameters()
                                    if p.requires_grad)
    row['trainable_mmmtl'] = param_report(ours, 'mtlora')['total_trainable']
    row['published_m'] = PUBLISHED[method].get(rank)
    row['outputs_match'] = row['max_abs_diff'] <= TOLERANCE
    row['counts_match'] = row['trainable_official'] == row['trainable_mmmtl']
    return row


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--method', required=True,
                        choices=['mtlora', 'tadformer'])
    parser.add_argument('--official-repo', required=True,
                        help='local checkout of the official repository')
    parser.add_argument('--ranks', type=int, nargs='+', default=[16, 32, 64])
    parser.add_argument('--task-filter', nargs='+', default=['dynamic'],
                        choices=['dynamic', 'static'],
                        help='TADFormer: the paper\'s shared DTF and/or the '
                        'released per-task static filter')
    parser.add_argument('--size', type=int, default=448)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the rows as JSON')
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    if not osp.isdir(osp.join(args.official_repo, 'models')):
        raise SystemExit(f'--official-repo {args.official_repo}: no models/ '
                         'folder; give a checkout of the official repository')
    register_all_modules()
    filters = args.task_filter if args.method == 'tadformer' else ['-']
    rows = []
    for rank in args.ranks:
        for task_filter in filters:
            row = compare(args.method, args.official_repo, rank, task_filter,
                          args.size, args.batch, args.seed)
            rows.append(row)
            print(f'{args.method} r={rank} filter={task_filter}: max |diff| '
                  f'outputs {row["max_abs_diff"]:.2e} features '
                  f'{max(row["features"].values()):.2e}; trainable official '
                  f'{row["trainable_official"]:,} mmmtl '
                  f'{row["trainable_mmmtl"]:,} (published '
                  f'{row["published_m"]} M)', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)
    failed = [r for r in rows if not (r['outputs_match'] and
                                      r['counts_match'])]
    if failed:
        raise SystemExit(f'{len(failed)} of {len(rows)} rows do not match')
    return rows


if __name__ == '__main__':
    main()
