"""Support for timm's ``VisionTransformer`` inside ``TimmMultiScaleBackbone``
(plain ViT, DINOv2, register tokens).

Module names (timm's feature getter, tokens (B, P + L, C) with P prefix
tokens: class token and/or registers)::

    model.model.patch_embed              PatchEmbed (conv ``proj``)
    model.model.blocks.{i}               Block, block(x) with global attention
        .attn                            Attention(x)
        .attn.qkv / .attn.proj           Linear       roles 'qkv', 'proj'
        .mlp                             Mlp
        .mlp.fc1 / .mlp.fc2              Linear       roles 'fc1', 'fc2'
    pyramid.levels.{k}                   SimpleFeaturePyramid level k

Prompts (VPT) attend globally: prepended to each image's sequence (prefix
and patch tokens) in the blocks' own attention; a ViT has no downsampling,
so carried prompts keep their width.

"Stages" are the block groups that end at the taps feeding the pyramid:
with one tap (the default) the whole trunk is stage 0 and its map feeds
all four levels; with four taps stage k ends at tap k and feeds level k.
The pyramid is new (no pretrained checkpoint holds it): it always trains.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmmtl.models.backbones.timm_backbone import TimmMultiScaleBackbone
from ..mechanism.context import TaskContext, current_context
from .base import (BackboneSupport, ProbeSupport, PromptSupport, Region,
                   RegionSupport)
from .timm_stages import TIMM_TRANSFORMER_ROLES

PREFIX = 'model.model'


class TimmViTSupport(BackboneSupport, RegionSupport, PromptSupport,
                     ProbeSupport):
    """Every capability of a timm ViT feature extractor.

    Args:
        backbone: a :class:`TimmMultiScaleBackbone` of a timm ViT.
    """

    family = 'timm VisionTransformer'
    roles = TIMM_TRANSFORMER_ROLES
    trainable = {
        'patch_embed': r'^model\.model\.patch_embed\.',
        'norms': r'norm',
        'position': r'pos_embed',
        'prefix_tokens': r'(cls_token|reg_token)',
    }
    new_parameters = (r'^pyramid\.', )
    attention_rows = 'sequence'

    def __init__(self, backbone: nn.Module):
        super().__init__(backbone)
        self.vit = backbone.model.model
        self.prefix_tokens = self.vit.num_prefix_tokens
        all_taps = list(backbone.model.out_indices)
        self.taps = [all_taps[i] for i in backbone.pyramid_inputs]

    @staticmethod
    def handles(backbone: nn.Module) -> bool:
        return isinstance(backbone, TimmMultiScaleBackbone) and backbone.is_vit

    @property
    def num_stages(self) -> int:
        return len(self.taps)

    @property
    def fans_out(self) -> bool:
        """Whether one tap feeds every pyramid level."""
        return len(self.taps) == 1

    def blocks(self, which: str = 'all') -> List[Tuple[int, str]]:
        if which not in ('all', 'last'):
            raise ValueError(f"which must be 'all' or 'last', got {which!r}")
        names, first = [], 0
        for stage, tap in enumerate(self.taps):
            start = tap if which == 'last' else first
            names += [(stage, f'{PREFIX}.blocks.{i}')
                      for i in range(start, tap + 1)]
            first = tap + 1
        return names

    def channels(self, stage: int) -> int:
        return self.vit.embed_dim

    def out_index(self, stage: int) -> Optional[int]:
        return stage if 0 <= stage < len(self.taps) else None

    def attention(self, block: str) -> str:
        return f'{block}.attn'

    def mlp(self, block: str) -> str:
        return f'{block}.mlp'

    def checkpointing_requested(self) -> bool:
        return bool(self.vit.grad_checkpointing)

    def stop_own_checkpointing(self) -> None:
        self.vit.grad_checkpointing = False

    # regions ---------------------------------------------------------------
    def stage_regions(self) -> List[Region]:
        """Each tap block as a region. One tap feeding every level: the
        region runs to the end (the pyramid per task stream); four taps:
        the region ends at its block and its split runs the level."""
        if self.fans_out:
            block = self.blocks('last')[0][1]
            return [Region(block, None, None, None)]
        return [Region(block, block, stage, TapSplit(self, stage))
                for stage, block in self.blocks('last')]

    def region_shared_segments(self) -> List[str]:
        """The attention of each region's block (every stream enters it
        equal; its proj is its last layer)."""
        return [self.attention(block) for _, block in self.blocks('last')]

    def residual_regions(self, indices: Sequence[int]) -> List[Region]:
        """The pyramid run per task stream, each from the shared taps plus
        that task's residuals (patch tokens of the stage points)."""
        if not indices:
            return []
        return [Region('pyramid', None, None, None,
                       stack=PyramidResidualStack(self),
                       shared_stream=False)]

    # prompts ---------------------------------------------------------------
    def block(self, name: str) -> nn.Module:
        return self.backbone.get_submodule(name)

    def prompted_attention(self) -> 'PromptedGlobalAttention':
        return PromptedGlobalAttention()

    def norm1(self, block: str, x: Tensor) -> Tensor:
        return self.block(block).norm1(x)

    def attention_drop_path(self, block: str, x: Tensor) -> Tensor:
        """The block's layer scale and drop path after its attention."""
        module = self.block(block)
        return module.drop_path1(module.ls1(x))

    def mlp_residual(self, block: str, x: Tensor, identity: Tensor) -> Tensor:
        module = self.block(block)
        return identity + module.drop_path2(module.ls2(module.mlp(
            module.norm2(x))))

    def downsample(self, stage: int) -> Optional[str]:
        """None: a ViT keeps its token grid."""
        return None

    def merge_tokens(self, stage: int, tokens: Tensor) -> Tensor:
        raise ValueError(f'{self.family} has no downsampling to merge '
                         'prompt tokens through')

    def patch_embedding(self) -> nn.Module:
        return self.vit.patch_embed.proj

    def windows_to_tokens(self, block: str, windows: Tensor,
                          hw_shape: Tuple[int, int]) -> Tensor:
        """Global attention runs on whole sequences: rows are tokens."""
        return windows

    # probes ----------------------------------------------------------------
    def hw_probe(self) -> 'GridProbe':
        return GridProbe(self.backbone)

    # tokens ----------------------------------------------------------------
    def patch_map(self, tokens: Tensor) -> Tensor:
        """Block tokens (N, P + L, C) -> the tap's map (N, C, H, W): prefix
        tokens dropped and the feature getter's norm applied as the
        backbone does."""
        tokens = tokens[:, self.vit.num_prefix_tokens:]
        if self.backbone.model.norm:
            tokens = self.vit.norm(tokens)
        return self.backbone.tokens_to_map(tokens)

    def residual_map(self, residual: Tensor) -> Tensor:
        """A residual recorded on block tokens (N, P + L, C) -> (N, C, H,
        W), added after the tap's norm (as stage-point residuals are on
        every family)."""
        return self.backbone.tokens_to_map(
            residual[:, self.vit.num_prefix_tokens:])


class GridProbe:
    """Forward pre-hook: ``context.hw_shape`` = the token grid (H, W) of the
    running forward (the backbone records it from the input size).

    Args:
        backbone: the ``TimmMultiScaleBackbone``.
    """

    def __init__(self, backbone: nn.Module):
        self.backbone = backbone

    def __call__(self, module: nn.Module, args: tuple) -> None:
        current_context().hw_shape = self.backbone.grid_shape


class TapSplit:
    """Split the stacked output of tap block ``stage``: the shared stream
    goes on; each task's output ``stage`` is its pyramid level of its
    stream's map.

    Args:
        support: the ViT support.
        stage: tap (and pyramid level) index.
    """

    def __init__(self, support: TimmViTSupport, stage: int):
        self.support, self.stage = support, stage

    def __call__(self, context: TaskContext,
                 output: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        streams = context.split(output)
        tasks = streams[1:].flatten(0, 1)
        level = self.support.backbone.pyramid.levels[self.stage]
        maps = level(self.support.patch_map(tasks))
        feats = maps.view(len(context.tasks), -1, *maps.shape[1:])
        return streams[0], dict(zip(context.tasks, feats.unbind(0)))


class PyramidResidualStack:
    """Region stacking at the pyramid: for each task, every tap map plus
    that task's residuals recorded for the tap's output (tap maps without
    residuals are copied).

    Args:
        support: the ViT support.
    """

    def __init__(self, support: TimmViTSupport):
        self.support = support

    def __call__(self, context: TaskContext,
                 maps: Sequence[Tensor]) -> List[Tensor]:
        stacked = []
        for index, shared in enumerate(maps):
            residuals = context.residuals.pop(index, None)
            streams = [shared if residuals is None else
                       shared + self.support.residual_map(residuals[task])
                       for task in context.tasks]
            stacked.append(torch.cat(streams))
        return stacked


class PromptedGlobalAttention(nn.Module):
    """Global attention with prompt tokens, on a timm ``Attention``'s own
    weights (a site adapter replacing ``<block>.attn``).

    With prompts in the context (:class:`PromptState`, (B, P, C)), each
    sequence of N tokens attends over ``[P prompts; N tokens]`` (the
    prompts stacked over the task streams inside a region). The output
    projection (possibly an adapter site) runs on all P + N positions; the
    token outputs are returned, the shared stream's prompt outputs go to
    ``context.prompts.out`` (B, P, C) and, when the prompt state has a
    ``logits`` field, the unscaled prompt-query logits (rows, heads, P, N)
    there. Without prompts it is the original attention.
    """

    def reset_parameters(self) -> None:
        """No parameters of its own."""

    def forward_site(self, base: nn.Module, x: Tensor,
                     attn_mask: Optional[Tensor] = None,
                     is_causal: bool = False) -> Tensor:
        """x: sequences (S * B, N, C)."""
        context = current_context()
        prompts = context.prompts
        if prompts is None:
            return base(x, attn_mask=attn_mask, is_causal=is_causal)
        if attn_mask is not None or is_causal:
            raise ValueError('prompted attention takes no attention mask')
        rows, length, _ = x.shape
        tokens = prompts.tokens
        if context.stacked and not context.collapsed:
            tokens = context.stack(tokens)
        num_prompts = tokens.shape[1]
        seq = torch.cat([tokens, x], dim=1)
        total = num_prompts + length
        qkv = base.qkv(seq).reshape(rows, total, 3, base.num_heads,
                                    base.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = base.q_norm(q), base.k_norm(k)
        logits = q @ k.transpose(-2, -1)
        attn = base.attn_drop((logits * base.scale).softmax(dim=-1))
        out = base.norm((attn @ v).transpose(1, 2).reshape(rows, total, -1))
        if base.gate is not None:
            out = out * base.gate(seq).sigmoid()
        if hasattr(prompts, 'logits'):  # asked for by the prompt state
            prompts.logits = logits[:, :, :num_prompts, num_prompts:]
        shared_rows = rows // context.rows_per_stream
        out = base.proj_drop(base.proj(out))  # may expand collapsed streams
        prompts.out = out[:shared_rows, :num_prompts]
        return out[:, num_prompts:]
