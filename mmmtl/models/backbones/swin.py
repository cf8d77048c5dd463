"""mmseg's Swin Transformer with checkpoint conversion and MTLoRA outputs."""
from typing import List, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmseg.models.backbones import SwinTransformer

from mmmtl.registry import MODELS
from .swin_convert import load_swin_checkpoint


@MODELS.register_module()
class SwinTransformerMTL(SwinTransformer):
    """mmseg ``SwinTransformer`` that converts official/timm weights on load.

    All mmseg arguments are accepted unchanged; module names and state-dict
    keys are mmseg's, so adapters and mmseg-layout checkpoints work as usual.

    Args:
        pretrained (str, optional): path of an official Swin ``.pth``, a timm
            Swin ``.pth``/``.safetensors`` or an mmseg/mmmtl checkpoint.
            Converted in :meth:`init_weights` (bias tables interpolated to
            this model's window size). ``init_cfg=dict(type='Pretrained',
            checkpoint=PATH)`` is accepted as a synonym.
        out_after_downsample (bool): False (mmseg): stage ``i`` yields the
            output of its blocks, BEFORE its patch merging, passed through
            ``norm{i}``: channels ``C * 2**i`` at stride ``4 * 2**i``.
            True (MTLoRA/TADFormer): stage ``i`` yields the hidden state
            AFTER its patch merging (the last stage, which has none, its
            blocks' output), without output norms: channels
            ``[2C, 4C, 8C, 8C]`` at strides ``[8, 16, 32, 32]``.
        **kwargs: mmseg ``SwinTransformer`` arguments.

    Attributes:
        out_channels (list[int]): channels of each returned map.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 out_after_downsample: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if init_cfg is not None and 'checkpoint' in init_cfg:
            if pretrained is not None:
                raise ValueError('give either pretrained= or init_cfg with a '
                                 'checkpoint to SwinTransformerMTL, not both')
            pretrained = init_cfg['checkpoint']
            init_cfg = None
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.pretrained_path = pretrained
        self.out_after_downsample = out_after_downsample
        channels = []
        for i in self.out_indices:
            downsample = self.stages[i].downsample
            if out_after_downsample:
                setattr(self, f'norm{i}', nn.Identity())
                channels.append(downsample.out_channels
                                if downsample else self.num_features[i])
            else:
                channels.append(self.num_features[i])
        self.out_channels: List[int] = channels

    def train(self, mode: bool = True) -> 'SwinTransformerMTL':
        """mmseg's ``train`` (keeps frozen stages in eval), returning self.

        mmseg's returns None, which breaks ``model.eval()`` chaining.
        """
        super().train(mode)
        return self

    def init_weights(self) -> None:
        """mmseg's from-scratch init, then the converted checkpoint if any."""
        super().init_weights()
        if self.pretrained_path is not None:
            report = load_swin_checkpoint(self, self.pretrained_path)
            print_log(report.summary(), logger='current')

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Image (B, 3, H, W) -> list of (B, C_i, H_i, W_i) stage maps."""
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)

        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_hw_shape = stage(x, hw_shape)
            if i not in self.out_indices:
                continue
            if self.out_after_downsample:
                out, out_hw_shape = x, hw_shape
            out = getattr(self, f'norm{i}')(out)
            outs.append(
                out.view(-1, *out_hw_shape,
                         out.shape[-1]).permute(0, 3, 1, 2).contiguous())
        return outs
