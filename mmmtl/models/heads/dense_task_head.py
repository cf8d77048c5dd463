"""Base class of mmmtl task heads (any task kind, any output channels)."""
from typing import List, Optional, Sequence, Union

from mmengine.model import BaseModule, PretrainedInit
from torch import Tensor


class DenseTaskHead(BaseModule):
    """A head mapping multi-scale features to one task's dense output.

    Unlike mmseg's ``BaseDecodeHead`` (whose ``out_channels`` must be
    ``num_classes`` or 1) it carries no loss and accepts any number of output
    channels, so it serves regression tasks (3-channel normals) too.

    Args:
        in_channels: channels of the selected inputs, one per ``in_index``.
        out_channels: channels of the output map.
        in_index: indices of the backbone outputs this head reads (default:
            all, ``range(len(in_channels))``).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 out_channels: int,
                 in_index: Optional[Union[int, Sequence[int]]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = ([in_channels] if isinstance(in_channels, int)
                       else list(in_channels))
        if in_index is None:
            in_index = list(range(len(in_channels)))
        in_index = [in_index] if isinstance(in_index, int) else list(in_index)
        if len(in_index) != len(in_channels):
            raise ValueError(f'{type(self).__name__}: in_channels '
                             f'{in_channels} and in_index {in_index} must '
                             'have the same length')
        if out_channels < 1:
            raise ValueError(f'{type(self).__name__}: out_channels must be '
                             f'positive, got {out_channels}')
        self.in_channels = in_channels
        self.in_index = in_index
        self.out_channels = out_channels

    def _has_own_initialisers(self) -> bool:
        """Whether ``init_cfg`` holds initialisers other than
        ``Pretrained``."""
        cfgs = [self.init_cfg] if isinstance(self.init_cfg, dict) \
            else list(self.init_cfg or [])
        return any(cfg['type'] not in ('Pretrained', PretrainedInit)
                   for cfg in cfgs)

    def init_weights(self) -> None:
        """mmengine's initialisation, in which the head's ``init_cfg``
        reaches every layer it matches.

        mmengine applies a module's ``init_cfg`` and then calls its
        submodules' own ``init_weights``; mmcv's ``ConvModule`` (not a
        ``BaseModule``) re-initialises its conv there (kaiming) and norm,
        undoing e.g. ``Constant`` on ``fuse.conv``. When the head has an
        ``init_cfg`` such submodules keep the initialisation they got when
        built and are not re-initialised; layers the ``init_cfg`` does not
        match are thus as built, and the init log says what set each.
        """
        if self.is_init or not self._has_own_initialisers():
            return super().init_weights()
        skipped = [module for module in self.modules()
                   if module is not self and hasattr(module, 'init_weights')
                   and not isinstance(module, BaseModule)
                   and 'is_init' not in vars(module)]
        for module in skipped:
            module.is_init = True  # BaseModule.init_weights skips it
        try:
            super().init_weights()
        finally:
            for module in skipped:
                del module.is_init

    def select_inputs(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Pick ``feats[i]`` for ``i`` in ``in_index`` and check channels.

        Args:
            feats: backbone outputs, each (B, C_i, H_i, W_i).
        """
        if max(self.in_index) >= len(feats):
            raise IndexError(f'{type(self).__name__}: in_index '
                             f'{self.in_index} but the backbone gave '
                             f'{len(feats)} feature maps')
        selected = [feats[i] for i in self.in_index]
        for idx, feat, channels in zip(self.in_index, selected,
                                       self.in_channels):
            if feat.shape[1] != channels:
                raise ValueError(f'{type(self).__name__}: feature {idx} has '
                                 f'{feat.shape[1]} channels, in_channels '
                                 f'says {channels}')
        return selected

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Map features to the output (B, out_channels, h, w)."""
        raise NotImplementedError
