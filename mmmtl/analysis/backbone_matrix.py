"""Which method trains on which backbone family: the matrix of
``docs/en/backbones.md``, produced by running every cell at a tiny size.

A cell builds the method on a tiny backbone of the family (random weights,
two tasks), runs one forward and backward on a (2, 3, 64, 64) batch and one
SGD step, and checks that every trainable parameter got a gradient and
moved. A cell whose method needs something the family lacks records what
(``UnsupportedBackboneError.needs``): the matrix says "needs <that>".

``tools/analysis/backbone_matrix.py`` writes the page; a test keeps the page
equal to what this module computes.
"""
from typing import Dict, List, NamedTuple, Optional

import torch

from mmmtl.models.adapters.support import UnsupportedBackboneError
from mmmtl.registry import MODELS

#: family -> (column title, tiny backbone config, input size).
FAMILIES: Dict[str, tuple] = {
    'mmseg_swin': ('mmseg Swin', dict(
        type='SwinTransformer', embed_dims=32, depths=(2, 2, 2, 2),
        num_heads=(1, 2, 2, 4), window_size=4, drop_path_rate=0.0), 64),
    'timm_swin': ('timm Swin', dict(
        type='TimmMultiScaleBackbone',
        model_name='swin_tiny_patch4_window7_224',
        model_kwargs=dict(img_size=64, window_size=4, embed_dim=32,
                          depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))), 64),
    'timm_vit': ('timm ViT (DINOv2, registers)', dict(
        type='TimmMultiScaleBackbone',
        model_name='vit_small_patch14_reg4_dinov2', out_indices=(3, ),
        model_kwargs=dict(img_size=56, depth=4, embed_dim=64,
                          num_heads=2)), 56),
    'timm_convnext': ('timm ConvNeXt', dict(
        type='TimmMultiScaleBackbone', model_name='convnext_atto',
        model_kwargs=dict(depths=(1, 1, 2, 1), dims=(32, 64, 96, 128),
                          conv_mlp=False, ls_init_value=1.0)), 64),
}

#: method -> tiny arguments.
METHODS: Dict[str, dict] = {
    'VMTAdapter': dict(bottleneck=4),
    'VMTAdapterLite': dict(bottleneck=4),
    'Polyhistor': dict(bottleneck=4, embed_dim=8, hyper_dim=8),
    'PolyhistorLite': dict(bottleneck=4, embed_dim=8, hyper_dim=8),
    'TADFormer': dict(rank=2),
    'MTLoRA': dict(rank=2, task_rank=2),
    'LoRA': dict(rank=2),
    'DoRA': dict(rank=2),
    'BottleneckAdapter': dict(reduction=8),
    'LowRankAdapter': dict(reduction=8),
    'Compacter': dict(reduction=8),
    'CompacterPlusPlus': dict(reduction=8),
    'Hyperformer': dict(reduction=8, embed_dim=8, hidden_dim=8, proj_dim=8),
    'VPTDeep': dict(num_prompts=2),
    'VPTShallow': dict(num_prompts=2),
    'BitFit': dict(),
    'RelPosBiasTuning': dict(),
    'DecoderOnly': dict(),
}

#: (method, family) -> arguments replacing defaults the family cannot take
#: (shown in the page next to the cell).
OVERRIDES: Dict[tuple, dict] = {
    ('LoRA', 'timm_convnext'): dict(roles=('fc1', 'fc2')),
    ('DoRA', 'timm_convnext'): dict(roles=('fc1', 'fc2')),
    ('BottleneckAdapter', 'timm_convnext'): dict(placement='ffn'),
    ('LowRankAdapter', 'timm_convnext'): dict(placement='ffn'),
    ('Compacter', 'timm_convnext'): dict(placement='ffn'),
}

TASKS = ('semseg', 'depth')


class Cell(NamedTuple):
    """One cell: ``trains`` or the piece its method ``needs``."""

    method: str
    family: str
    trains: bool
    needs: str = ''
    overrides: Optional[dict] = None


def cell_config(method: str, family: str) -> dict:
    """The tiny config of the cell."""
    cfg = dict(type=method, module=FAMILIES[family][1], tasks=TASKS)
    cfg.update(METHODS[method])
    cfg.update(OVERRIDES.get((method, family), {}))
    return cfg


def run_cell(method: str, family: str) -> Cell:
    """Build, one training step, checks (see the module docstring).

    Raises:
        AssertionError: when a cell builds but does not train correctly.
    """
    torch.manual_seed(0)
    overrides = OVERRIDES.get((method, family))
    try:
        model = MODELS.build(cell_config(method, family))
    except UnsupportedBackboneError as error:
        return Cell(method, family, False, error.needs or str(error))
    model.init_weights()
    model.train()
    size = FAMILIES[family][2]
    images = torch.randn(2, 3, size, size)
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    out = model(images)
    feats = (out if isinstance(out, list) else
             [f for task in TASKS for f in out[task]])
    loss = sum(f.pow(2).mean() for f in feats)
    if not params:
        return Cell(method, family, True, overrides=overrides)
    loss.backward()
    missing = [i for i, p in enumerate(params) if p.grad is None]
    assert not missing, f'{method} on {family}: {len(missing)} trainable ' \
        'parameters got no gradient'
    torch.optim.SGD(params, lr=1.0).step()
    moved = sum(not torch.equal(p, b) for p, b in zip(params, before))
    assert moved, f'{method} on {family}: no trainable parameter moved'
    return Cell(method, family, True, overrides=overrides)


def build_matrix() -> List[Cell]:
    """Every (method, family) cell."""
    return [run_cell(method, family) for method in METHODS
            for family in FAMILIES]


def render_markdown(cells: List[Cell]) -> str:
    """The table of ``docs/en/backbones.md`` (between its markers)."""
    by_key = {(c.method, c.family): c for c in cells}
    header = '| method | ' + ' | '.join(
        FAMILIES[f][0] for f in FAMILIES) + ' |'
    rows = [header, '|' + ' --- |' * (len(FAMILIES) + 1)]
    for method in METHODS:
        entries = []
        for family in FAMILIES:
            cell = by_key[(method, family)]
            if not cell.trains:
                entries.append(f'needs {cell.needs}')
                continue
            extra = ', '.join(f'`{k}={v!r}`'
                              for k, v in (cell.overrides or {}).items())
            entries.append('trains' + (f' ({extra})' if extra else ''))
        rows.append(f'| {method} | ' + ' | '.join(entries) + ' |')
    return '\n'.join(rows) + '\n'
