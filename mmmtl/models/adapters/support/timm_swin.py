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
from typing import Dict, List, Optional, Tuple

from torch import Tensor, nn

from mmmtl.models.backbones.timm_backbone import TimmMultiScaleBackbone
from ..mechanism.context import TaskContext, current_context
from .base import BackboneSupport, ProbeSupport, Region, RegionSupport


class TimmSwinSupport(BackboneSupport, RegionSupport, ProbeSupport):
    """Names, regions and probes of a timm Swin feature extractor.

    Args:
        backbone: a :class:`TimmMultiScaleBackbone` of a timm Swin model.
    """

    family = 'timm SwinTransformer'
    roles = {'qkv': 'attn.qkv', 'proj': 'attn.proj', 'fc1': 'mlp.fc1',
             'fc2': 'mlp.fc2'}
    trainable = {
        'patch_embed': r'^model\.patch_embed\.',
        'norms': r'norm',
        'relative_position': r'relative_position_bias_table',
        'merge_reduction': r'downsample\.reduction',
    }

    def __init__(self, backbone: nn.Module):
        super().__init__(backbone)
        self.stages = [m for n, m in backbone.model.named_children()
                       if n.startswith('layers_')]
        self.taps = backbone.model.feature_info.module_name()

    @staticmethod
    def handles(backbone: nn.Module) -> bool:
        from timm.models.swin_transformer import SwinTransformerStage
        return isinstance(backbone, TimmMultiScaleBackbone) and isinstance(
            getattr(backbone.model, 'layers_0', None), SwinTransformerStage)

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def blocks(self, which: str = 'all') -> List[Tuple[int, str]]:
        if which not in ('all', 'last'):
            raise ValueError(f"which must be 'all' or 'last', got {which!r}")
        names = []
        for i, stage in enumerate(self.stages):
            depth = len(stage.blocks)
            first = depth - 1 if which == 'last' else 0
            names += [(i, f'model.layers_{i}.blocks.{j}')
                      for j in range(first, depth)]
        return names

    def channels(self, stage: int) -> int:
        return self.stages[stage].blocks[0].norm1.normalized_shape[0]

    def out_index(self, stage: int) -> Optional[int]:
        name = f'layers.{stage}'
        return self.taps.index(name) if name in self.taps else None

    def attention(self, block: str) -> str:
        """The window attention of ``block`` (called on windows)."""
        return f'{block}.attn'

    def mlp(self, block: str) -> str:
        return f'{block}.mlp'

    def checkpointing_requested(self) -> bool:
        return any(stage.grad_checkpointing for stage in self.stages)

    def stop_own_checkpointing(self) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = False

    # regions ---------------------------------------------------------------
    def stage_regions(self) -> List[Region]:
        """From the last block of each output stage to the stage's end."""
        return [Region(block, f'model.layers_{stage}', self.out_index(stage),
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
