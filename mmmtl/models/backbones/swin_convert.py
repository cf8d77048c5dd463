"""Convert Swin Transformer checkpoints to mmseg's ``SwinTransformer`` keys.

Three layouts are recognised (:func:`detect_swin_layout`):

``official``
    Microsoft's release (``swin_tiny_patch4_window7_224.pth`` ...) and timm
    < 0.9: the patch merging of stage ``i`` is ``layers.i.downsample`` (at the
    END of stage ``i``); the final norm is ``norm``; the classifier ``head``.
``timm``
    timm >= 0.9: the patch merging that follows stage ``i`` is stored as
    ``layers.{i+1}.downsample`` (at the START of the next stage); the
    classifier is ``head.fc``.
``mmseg``
    Already in mmseg's keys (``stages.i.blocks.j.attn.w_msa...``), possibly
    with a ``backbone.`` prefix (a full mmseg/mmmtl model checkpoint).

Besides renaming, the conversion reorders the input channels of every
patch-merging ``reduction``/``norm``: the official code concatenates the four
2x2 neighbours as ``[(0,0), (1,0), (0,1), (1,1)]`` (row offset first) blocks
of C channels, while mmseg's ``nn.Unfold`` yields channel-major order
``c * 4 + (row * 2 + col)``. Relative-position-index buffers and attention
masks are dropped (the model computes its own), the classifier is dropped,
and relative-position bias tables are resized (bicubic) when the target
window size differs from the checkpoint's.
"""
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.compat.checkpoint import load_local_checkpoint

StateDict = Dict[str, torch.Tensor]

# Keys of the checkpoint that carry nothing the backbone can use.
_DROPPED_PATTERNS = (r'(^|\.)relative_position_index$', r'(^|\.)attn_mask$',
                     r'^head\.')
# Target keys a converted checkpoint may legitimately lack or carry extra:
# mmseg's per-stage output norms (the official model only has the final one),
# and the index buffers, which mmseg recomputes at construction.
_OPTIONAL_TARGET_PATTERNS = (r'^norm\d+\.', r'(^|\.)relative_position_index$')
_RENAMES = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^layers\.(\d+)\.', r'stages.\1.'),
    (r'\.attn\.(qkv|proj|relative_position_bias_table)',
     r'.attn.w_msa.\1'),
    (r'\.mlp\.fc1\.', '.ffn.layers.0.0.'),
    (r'\.mlp\.fc2\.', '.ffn.layers.1.'),
)


@dataclass
class SwinLoadReport:
    """What happened when a checkpoint was converted and loaded."""

    source: str
    layout: str
    missing_keys: List[str] = field(default_factory=list)
    unexpected_keys: List[str] = field(default_factory=list)
    dropped_keys: List[str] = field(default_factory=list)
    resized_keys: List[str] = field(default_factory=list)

    def summary(self) -> str:
        """One human-readable paragraph for the log."""
        lines = [f'loaded {self.layout}-layout Swin weights from '
                 f'{self.source}']
        for name in ('missing_keys', 'unexpected_keys', 'dropped_keys',
                     'resized_keys'):
            keys = getattr(self, name)
            if keys:
                shown = ', '.join(keys[:8]) + (' ...' if len(keys) > 8 else '')
                lines.append(f'  {name} ({len(keys)}): {shown}')
        return '\n'.join(lines)


def load_state_dict_file(path: str) -> StateDict:
    """Read a ``.pth``/``.pt``/``.bin`` or ``.safetensors`` checkpoint.

    A nested ``state_dict`` or ``model`` entry is unwrapped. Pickled files are
    read by :func:`mmmtl.compat.load_local_checkpoint` (weights only, plus
    the types mmengine saves; full unpickling only under the run's explicit
    ``unsafe_load`` opt-in): a file that pickles other objects, or an
    unreadable one, raises a ``ValueError`` of one line naming it.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist; see '
                                'docs/en/pretrained.md for where to get it.')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return dict(load_file(path, device='cpu'))
    ckpt = load_local_checkpoint(path, map_location='cpu')
    for nest in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(nest), dict):
            ckpt = ckpt[nest]
            break
    if not isinstance(ckpt, dict):
        raise TypeError(f'{path} does not hold a state dict '
                        f'(got {type(ckpt).__name__}).')
    return dict(ckpt)


def strip_prefixes(state_dict: StateDict) -> StateDict:
    """Remove ``module.`` and keep only ``backbone.`` entries when present."""
    out = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    if any(k.startswith('backbone.') for k in out):
        out = OrderedDict((k[len('backbone.'):], v) for k, v in out.items()
                          if k.startswith('backbone.'))
    return out


def detect_swin_layout(state_dict: StateDict) -> str:
    """Return ``'official'``, ``'timm'`` or ``'mmseg'`` for a Swin state dict.

    Raises:
        ValueError: if the keys look like none of them.
    """
    keys = list(state_dict)
    if any(k.startswith('stages.') and '.w_msa.' in k for k in keys):
        return 'mmseg'
    if not any(k.startswith('layers.') and '.blocks.' in k for k in keys):
        raise ValueError(
            'not a Swin Transformer state dict: expected keys like '
            '"layers.0.blocks.0.attn.qkv.weight" (official/timm) or '
            '"stages.0.blocks.0.attn.w_msa.qkv.weight" (mmseg); first keys: '
            f'{keys[:5]}')
    if any(k.startswith('layers.0.downsample.') for k in keys):
        return 'official'
    if any(re.match(r'layers\.\d+\.downsample\.', k) for k in keys):
        return 'timm'
    return 'official'


def timm_to_official(state_dict: StateDict) -> StateDict:
    """Move timm's patch merging back to the end of the previous stage."""
    out = OrderedDict()
    for key, value in state_dict.items():
        key = re.sub(r'^layers\.(\d+)\.downsample\.',
                     lambda m: f'layers.{int(m.group(1)) - 1}.downsample.',
                     key)
        out[key.replace('head.fc.', 'head.')] = value
    return out


def reorder_merging_channels(tensor: torch.Tensor) -> torch.Tensor:
    """Official 2x2 neighbour order -> mmseg ``nn.Unfold`` order.

    Args:
        tensor: ``reduction.weight`` (C_out, 4C) or ``norm`` weight/bias (4C,).

    Returns:
        Same shape, last dim reordered from ``(neighbour, c)`` with neighbours
        ``[(0,0), (1,0), (0,1), (1,1)]`` to ``(c, row * 2 + col)``.
    """
    lead = tensor.shape[:-1]
    channels = tensor.shape[-1] // 4
    blocks = tensor.reshape(*lead, 4, channels)
    # Unfold position (row, col) -> official block index: (0,0)->0,
    # (0,1)->2, (1,0)->1, (1,1)->3.
    blocks = blocks[..., [0, 2, 1, 3], :]
    return blocks.transpose(-1, -2).reshape(tensor.shape).contiguous()


def resize_rel_pos_bias_table(table: torch.Tensor,
                              window_size: int) -> torch.Tensor:
    """Resize a relative-position bias table to another window size.

    Args:
        table: (( 2W - 1)^2, num_heads).
        window_size: the target window size W'.

    Returns:
        ((2W' - 1)^2, num_heads), bicubic interpolation of each head's
        (2W - 1) x (2W - 1) grid; unchanged when W' == W.
    """
    length, heads = table.shape
    src = int(round(length**0.5))
    if src * src != length:
        raise ValueError(f'bias table of {length} rows is not square '
                         '(expected (2W-1)^2).')
    dst = 2 * window_size - 1
    if src == dst:
        return table
    grid = table.t().reshape(1, heads, src, src).float()
    grid = F.interpolate(grid, size=(dst, dst), mode='bicubic',
                         align_corners=False)
    return grid.reshape(heads, dst * dst).t().contiguous().to(table.dtype)


def official_to_mmseg(state_dict: StateDict,
                      num_stages: Optional[int] = None) -> Tuple[StateDict,
                                                                 List[str]]:
    """Rename an official-layout state dict to mmseg's keys.

    The final ``norm`` becomes ``norm{num_stages - 1}`` (mmseg's output norm
    of the last stage).

    Returns:
        (converted state dict, dropped keys).
    """
    if num_stages is None:
        stages = {int(m.group(1)) for k in state_dict
                  for m in [re.match(r'layers\.(\d+)\.', k)] if m}
        num_stages = max(stages) + 1
    out, dropped = OrderedDict(), []
    for key, value in state_dict.items():
        if any(re.search(p, key) for p in _DROPPED_PATTERNS):
            dropped.append(key)
            continue
        if key.startswith('norm.'):
            out[f'norm{num_stages - 1}.' + key[len('norm.'):]] = value
            continue
        if re.search(r'\.downsample\.(reduction|norm)\.', key):
            value = reorder_merging_channels(value)
        new_key = key
        for pattern, repl in _RENAMES:
            new_key = re.sub(pattern, repl, new_key)
        out[new_key] = value
    return out, dropped


def convert_swin_state_dict(
        state_dict: StateDict,
        window_size: Optional[int] = None,
        num_stages: Optional[int] = None) -> Tuple[StateDict, SwinLoadReport]:
    """Convert an official/timm/mmseg Swin state dict to mmseg's keys.

    Args:
        state_dict: raw checkpoint entries (prefixes are stripped here).
        window_size: target window size; bias tables are resized to it.
            None keeps the checkpoint's.
        num_stages: number of stages of the target model (for the name of
            the final norm); None infers it from the checkpoint.

    Returns:
        (converted state dict, report with ``layout``, ``dropped_keys`` and
        ``resized_keys``; ``source`` is left empty).
    """
    state_dict = strip_prefixes(state_dict)
    layout = detect_swin_layout(state_dict)
    report = SwinLoadReport(source='', layout=layout)
    if layout == 'mmseg':
        converted = OrderedDict(
            (k, v) for k, v in state_dict.items()
            if not re.search(r'(^|\.)relative_position_index$', k))
        report.dropped_keys = [k for k in state_dict if k not in converted]
    else:
        if layout == 'timm':
            state_dict = timm_to_official(state_dict)
        converted, report.dropped_keys = official_to_mmseg(
            state_dict, num_stages)
    if window_size is not None:
        for key in list(converted):
            if key.endswith('relative_position_bias_table'):
                resized = resize_rel_pos_bias_table(converted[key],
                                                    window_size)
                if resized.shape != converted[key].shape:
                    report.resized_keys.append(key)
                converted[key] = resized
    return converted, report


def _is_optional(key: str) -> bool:
    return any(re.search(p, key) for p in _OPTIONAL_TARGET_PATTERNS)


def load_swin_checkpoint(module: nn.Module, path: str) -> SwinLoadReport:
    """Convert the checkpoint at ``path`` and load it into an mmseg-style Swin.

    The window size is taken from the module's own bias tables, so tables
    are interpolated when the checkpoint's window differs.

    Raises:
        ValueError: when the checkpoint does not match the architecture
            (shape mismatches, missing blocks, extra blocks), naming the keys.
    """
    target = module.state_dict()
    tables = [v for k, v in target.items()
              if k.endswith('relative_position_bias_table')]
    window = None
    if tables:
        window = (int(round(tables[0].shape[0]**0.5)) + 1) // 2
    num_stages = len(getattr(module, 'stages', [])) or None
    converted, report = convert_swin_state_dict(
        load_state_dict_file(path), window_size=window, num_stages=num_stages)
    report.source = path

    mismatched = [
        f'{k}: checkpoint {tuple(v.shape)} vs model '
        f'{tuple(target[k].shape)}' for k, v in converted.items()
        if k in target and v.shape != target[k].shape
    ]
    missing = [k for k in target if k not in converted]
    unexpected = [k for k in converted if k not in target]
    fatal_missing = [k for k in missing if not _is_optional(k)]
    fatal_unexpected = [k for k in unexpected if not _is_optional(k)]
    if mismatched or fatal_missing or fatal_unexpected:
        parts = []
        for title, items in (('shape mismatches', mismatched),
                             ('missing in checkpoint', fatal_missing),
                             ('not in model', fatal_unexpected)):
            if items:
                parts.append(f'{title} ({len(items)}): ' +
                             '; '.join(items[:6]) +
                             (' ...' if len(items) > 6 else ''))
        raise ValueError(
            f'checkpoint {path} ({report.layout} layout) does not match '
            f'{type(module).__name__}: ' + ' | '.join(parts) +
            '. Check embed_dims/depths/num_heads of the config against the '
            'file (Swin-T: 96/[2,2,6,2], Swin-S: 96/[2,2,18,2], '
            'Swin-B: 128/[2,2,18,2]).')
    module.load_state_dict(
        {k: v for k, v in converted.items() if k in target}, strict=False)
    report.missing_keys = missing
    report.unexpected_keys = unexpected
    return report
