"""Support for timm's ``SwinTransformer`` inside ``TimmMultiScaleBackbone``.

Module names (``features_only`` list wrapper, NHWC tokens)::

    model.patch_embed                    PatchEmbed (output NHWC)
    model.layers_{i}                     SwinTransformerStage: downsample
                                         (PatchMerging, Identity in stage 0)
                                         then blocks; its output is the
                                         stage feature (B, H, W, C)
    model.layers_{i}.blocks.{j}          SwinTransformerBlock, block(x) on
                                         (B, H, W, C)
        .attn                            WindowAttention(windows, mask)
        .attn.qkv / .attn.proj           Linear       roles 'qkv', 'proj'
        .mlp                             Mlp on (B, L, C)
        .mlp.fc1 / .mlp.fc2              Linear       roles 'fc1', 'fc2'

Downsampling opens the next stage, so a stage's feature is its own output
and per-task regions end at ``model.layers_{i}``.
"""
from typing import Dict, List, Tuple

from timm.models.swin_transformer import SwinTransformerStage
from torch import Tensor, nn

from ..mechanism.context import TaskContext, current_context
from .base import ProbeSupport, Region, RegionSupport
from .timm_stages import TIMM_TRANSFORMER_ROLES, TimmStagedSupport


class TimmSwinSupport(TimmStagedSupport, RegionSupport, ProbeSupport):
    """Names, regions and probes of a timm Swin feature extractor.

    Args:
        backbone: a :class:`TimmMultiScaleBackbone` of a timm Swin model.
    """

    family = 'timm SwinTransformer'
    roles = TIMM_TRANSFORMER_ROLES
    trainable = {
        'patch_embed': r'^model\.patch_embed\.',
        'norms': r'norm',
        'relative_position': r'relative_position_bias_table',
        'merge_reduction': r'downsample\.reduction',
    }
    stage_class = SwinTransformerStage
    stage_prefix = 'layers_'

    def channels(self, stage: int) -> int:
        return self.stages[stage].blocks[0].norm1.normalized_shape[0]

    def attention(self, block: str) -> str:
        """The window attention of ``block`` (called on windows)."""
        return f'{block}.attn'

    # regions ---------------------------------------------------------------
    def stage_regions(self) -> List[Region]:
        """From the last block of each output stage to the stage's end."""
        return [Region(block, self.stage_name(stage), self.out_index(stage),
                       channels_last_split)
                for stage, block in self.blocks('last')
                if self.out_index(stage) is not None]

    def region_shared_segments(self) -> List[str]:
        """The window attention of each region's block (every stream
        enters it equal; its proj is its last layer)."""
        return [self.attention(region.entry)
                for region in self.stage_regions()]

    # probes ----------------------------------------------------------------
    def hw_probe(self) -> 'NHWCProbe':
        return NHWCProbe()


def channels_last_split(context: TaskContext,
                        output: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
    """Stacked stage output (S * B, H, W, C): the shared stream goes on,
    each task's feature is laid out (B, C, H, W)."""
    streams = context.split(output)
    feats = streams[1:].permute(0, 1, 4, 2, 3).contiguous()
    return streams[0], dict(zip(context.tasks, feats.unbind(0)))


class NHWCProbe:
    """Forward pre-hook: ``context.hw_shape`` = (H, W) of the NHWC tokens a
    block is called with."""

    def __call__(self, module: nn.Module, args: tuple) -> None:
        current_context().hw_shape = tuple(int(v) for v in args[0].shape[1:3])
