"""The HRNet-style multi-scale fusion decoder of MTLoRA / TADFormer."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .dense_task_head import DenseTaskHead


@MODELS.register_module()
class MultiScaleFusionHead(DenseTaskHead):
    """Per-stage 1x1 reduction, upsample-and-concat fusion, 1x1 classifier.

    The references (MTLoRA ``Downsampler`` + ``HighResolutionHead``, reused
    by TADFormer) build, per task:

    1. on each stage i a 1x1 conv (no bias, no norm) from C_i to
       ``channels[i]`` (default ``[18, 36, 72, 144]``, HRNet-W18 widths);
    2. bilinear upsampling of every stage to the first stage's resolution and
       concatenation (sum(channels) = 270);
    3. a 1x1 conv (with bias) to ``expansion * 270`` channels (the
       references' ``last_inp_channels * 4`` = 1080), BN, ReLU;
    4. a 1x1 conv (with bias) to ``out_channels``.

    With the references' stage channels [192, 384, 768, 768] this gives
    500,709 parameters for 21 outputs and 479,089 for 1 output; with mmseg
    Swin-T's [96, 192, 384, 768] it gives 464,421 for 21 outputs.

    Args:
        in_channels: channels of the selected stages (B, C_i, H_i, W_i).
        out_channels: output channels.
        channels: reduced channels per stage.
        in_index: which backbone outputs to read (default: all).
        expansion: hidden width of the fusion conv, as a multiple of
            ``sum(channels)`` (4 in the references' head; 1 in HRNet's
            segmentation head).
        reduce_norm_cfg: optional norm (and then ReLU) after each 1x1
            reduction; ``None`` as in the references.
        norm_cfg: norm of the fusion conv.
        align_corners: of the bilinear upsampling.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 channels: Sequence[int] = (18, 36, 72, 144),
                 in_index: Optional[Sequence[int]] = None,
                 expansion: int = 4,
                 reduce_norm_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 align_corners: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, out_channels, in_index,
                         init_cfg=init_cfg)
        channels = list(channels)
        if len(channels) != len(self.in_channels):
            raise ValueError(f'{type(self).__name__}: channels {channels} '
                             'must have one entry per input, in_channels '
                             f'{self.in_channels}')
        self.align_corners = align_corners
        act_cfg = dict(type='ReLU') if reduce_norm_cfg else None
        self.reduce = nn.ModuleList(
            ConvModule(c_in, c_out, 1, bias=False, norm_cfg=reduce_norm_cfg,
                       act_cfg=act_cfg)
            for c_in, c_out in zip(self.in_channels, channels))
        fused = sum(channels)
        self.fuse = ConvModule(fused, fused * expansion, 1, bias=True,
                               norm_cfg=norm_cfg)
        self.cls = nn.Conv2d(fused * expansion, out_channels, 1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Args: feats list of (B, C_i, H_i, W_i).

        Returns:
            (B, out_channels, H_0, W_0) at the first selected stage's size.
        """
        inputs = self.select_inputs(feats)
        size = inputs[0].shape[2:]
        reduced = [
            F.interpolate(conv(x), size=size, mode='bilinear',
                          align_corners=self.align_corners)
            if x.shape[2:] != size else conv(x)
            for conv, x in zip(self.reduce, inputs)
        ]
        return self.cls(self.fuse(torch.cat(reduced, dim=1)))
