"""Shared names of timm's hierarchical models behind the ``features_only``
list wrapper (``model.<prefix>{i}.blocks.{j}``; Swin, ConvNeXt)."""
from typing import List, Optional, Tuple

from torch import nn

from mmmtl.models.backbones.timm_backbone import TimmMultiScaleBackbone
from .base import BackboneSupport

#: linear roles of timm transformer blocks (``attn.qkv``, ``mlp.fc1``, ...).
TIMM_TRANSFORMER_ROLES = {'qkv': 'attn.qkv', 'proj': 'attn.proj',
                          'fc1': 'mlp.fc1', 'fc2': 'mlp.fc2'}


class TimmStagedSupport(BackboneSupport):
    """Blocks, output positions and checkpointing flags of stages named
    ``model.{stage_prefix}{i}`` whose blocks are ``.blocks.{j}``.

    Args:
        backbone: a ``TimmMultiScaleBackbone``.
    """

    stage_prefix = ''
    #: the timm class of the stages (identifies the family).
    stage_class: type = nn.Module

    def __init__(self, backbone: nn.Module):
        super().__init__(backbone)
        self.stages = [m for n, m in backbone.model.named_children()
                       if n.startswith(self.stage_prefix)]
        self.taps = backbone.model.feature_info.module_name()

    @classmethod
    def handles(cls, backbone: nn.Module) -> bool:
        return isinstance(backbone, TimmMultiScaleBackbone) and isinstance(
            getattr(backbone.model, f'{cls.stage_prefix}0', None),
            cls.stage_class)

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def stage_name(self, stage: int) -> str:
        """Module name of stage ``stage``."""
        return f'model.{self.stage_prefix}{stage}'

    def blocks(self, which: str = 'all') -> List[Tuple[int, str]]:
        if which not in ('all', 'last'):
            raise ValueError(f"which must be 'all' or 'last', got {which!r}")
        names = []
        for i, stage in enumerate(self.stages):
            depth = len(stage.blocks)
            first = depth - 1 if which == 'last' else 0
            names += [(i, f'{self.stage_name(i)}.blocks.{j}')
                      for j in range(first, depth)]
        return names

    def out_index(self, stage: int) -> Optional[int]:
        name = f'{self.stage_prefix.rstrip("_")}.{stage}'
        return self.taps.index(name) if name in self.taps else None

    def mlp(self, block: str) -> str:
        return f'{block}.mlp'

    def checkpointing_requested(self) -> bool:
        return any(stage.grad_checkpointing for stage in self.stages)

    def stop_own_checkpointing(self) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = False
