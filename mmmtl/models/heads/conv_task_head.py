"""A single-stage convolutional head (cheap baseline / tests)."""
from typing import Optional, Sequence

from mmcv.cnn import ConvModule
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .dense_task_head import DenseTaskHead


@MODELS.register_module()
class ConvTaskHead(DenseTaskHead):
    """3x3 conv-norm-ReLU on one feature map, then a 1x1 classifier.

    Args:
        in_channels: channels of the selected feature map.
        out_channels: output channels.
        channels: hidden channels.
        in_index: which backbone output to read.
        norm_cfg: normalisation of the hidden conv.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 channels: int = 32,
                 in_index: int = 0,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, out_channels, in_index,
                         init_cfg=init_cfg)
        if len(self.in_channels) != 1:
            raise ValueError(f'{type(self).__name__} reads one feature map, '
                             f'got in_channels={self.in_channels}')
        self.conv = ConvModule(self.in_channels[0], channels, 3, padding=1,
                               norm_cfg=norm_cfg)
        self.cls = nn.Conv2d(channels, out_channels, 1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Args: feats list of (B, C_i, H_i, W_i).

        Returns:
            (B, out_channels, H_k, W_k) at the selected map's resolution.
        """
        (x, ) = self.select_inputs(feats)
        return self.cls(self.conv(x))
