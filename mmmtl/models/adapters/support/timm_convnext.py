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
variants (atto to nano) default to ``conv_mlp=True``: 1x1-conv MLPs on NCHW
maps (:meth:`channels_first`), which have no linear roles.
"""

from timm.models.convnext import ConvNeXtStage
from torch import nn

from .base import UnsupportedBackboneError
from .timm_stages import TimmStagedSupport


class TimmConvNeXtSupport(TimmStagedSupport):
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
    stage_class = ConvNeXtStage
    stage_prefix = 'stages_'

    def channels(self, stage: int) -> int:
        return self.stages[stage].blocks[0].conv_dw.out_channels

    def channels_first(self, name: str) -> bool:
        """Whether module ``name`` (an MLP or inside one) works on NCHW maps
        (``conv_mlp=True``: 1x1 convolutions)."""
        block = self.block_of(name)
        return not isinstance(
            self.backbone.get_submodule(f'{block}.mlp').fc1, nn.Linear)

    def linear(self, block: str, role: str) -> str:
        if self.channels_first(block):
            raise UnsupportedBackboneError(
                f'{self.family} with conv_mlp=True has 1x1 convolutions, not '
                'linear layers, in its MLPs; build it with '
                'model_kwargs=dict(conv_mlp=False) (the default from '
                'convnext_tiny up) for linear roles', needs='conv_mlp=False')
        return super().linear(block, role)
