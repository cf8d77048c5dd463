"""Support for timm's ``ConvNeXt`` inside ``TimmMultiScaleBackbone``.

Module names (``features_only`` list wrapper, NCHW between blocks)::

    model.stem_0 / model.stem_1          patchify conv, norm
    model.stages_{i}                     ConvNeXtStage: downsample, blocks;
                                         its output is the stage feature
    model.stages_{i}.blocks.{j}          ConvNeXtBlock: conv_dw (7x7
                                         depthwise), norm, mlp, layer
                                         scale, drop path, residual
        .mlp                             Mlp on (B, H, W, C)
        .mlp.fc1 / .mlp.fc2              Linear (pointwise) roles 'fc1',
                                         'fc2'

ConvNeXt has no attention: methods that need one (attention roles,
prompts, shared attention segments) say so when they are built. The small
variants (atto to nano) default to ``conv_mlp=True`` (1x1-conv MLPs on
NCHW maps); the support needs the linear MLPs (``model_kwargs=dict(
conv_mlp=False)``, the default of tiny and larger).
"""
from typing import List, Optional, Tuple

from torch import nn

from mmmtl.models.backbones.timm_backbone import TimmMultiScaleBackbone
from .base import BackboneSupport, UnsupportedBackboneError


class TimmConvNeXtSupport(BackboneSupport):
    """Names of a timm ConvNeXt feature extractor.

    Args:
        backbone: a :class:`TimmMultiScaleBackbone` of a timm ConvNeXt.
    """

    family = 'timm ConvNeXt'
    roles = {'fc1': 'mlp.fc1', 'fc2': 'mlp.fc2'}
    trainable = {
        'stem': r'^model\.stem_',
        'norms': r'norm',
    }

    def __init__(self, backbone: nn.Module):
        super().__init__(backbone)
        self.stages = [m for n, m in backbone.model.named_children()
                       if n.startswith('stages_')]
        self.taps = backbone.model.feature_info.module_name()

    @staticmethod
    def handles(backbone: nn.Module) -> bool:
        from timm.models.convnext import ConvNeXtStage
        return isinstance(backbone, TimmMultiScaleBackbone) and isinstance(
            getattr(backbone.model, 'stages_0', None), ConvNeXtStage)

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
            names += [(i, f'model.stages_{i}.blocks.{j}')
                      for j in range(first, depth)]
        return names

    def channels(self, stage: int) -> int:
        return self.stages[stage].blocks[0].conv_dw.out_channels

    def out_index(self, stage: int) -> Optional[int]:
        name = f'stages.{stage}'
        return self.taps.index(name) if name in self.taps else None

    def mlp(self, block: str) -> str:
        mlp = f'{block}.mlp'
        if not isinstance(self.backbone.get_submodule(mlp).fc1, nn.Linear):
            raise UnsupportedBackboneError(
                f'{self.family} with conv_mlp=True has 1x1-conv MLPs on NCHW '
                'maps; build it with model_kwargs=dict(conv_mlp=False) '
                '(linear MLPs on NHWC tokens), or target the convs by '
                'regex where the method takes targets', needs='conv_mlp=False')
        return mlp

    def linear(self, block: str, role: str) -> str:
        self.mlp(block)
        return super().linear(block, role)

    def checkpointing_requested(self) -> bool:
        return any(stage.grad_checkpointing for stage in self.stages)

    def stop_own_checkpointing(self) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = False
