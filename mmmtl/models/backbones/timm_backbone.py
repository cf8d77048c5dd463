"""Any timm model as a multi-scale backbone (list of NCHW maps)."""
import sys
from typing import Dict, List, Optional, Sequence

import timm
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmmtl.registry import MODELS


class SimpleFeaturePyramid(nn.Module):
    """ViTDet-style pyramid from single-scale maps (Li et al., 2022).

    Level scales relative to the input map: x4 (two 2x2 deconvolutions with a
    GELU between), x2 (one deconvolution), x1 (identity), x0.5 (2x2 max
    pool). For a stride-16 ViT this gives strides 4/8/16/32.

    Args:
        in_channels: C of the input maps.

    Attributes:
        out_channels (list[int]): ``[C // 4, C // 2, C, C]``.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        half, quarter = in_channels // 2, in_channels // 4
        self.levels = nn.ModuleList([
            nn.Sequential(
                nn.ConvTranspose2d(in_channels, half, 2, stride=2), nn.GELU(),
                nn.ConvTranspose2d(half, quarter, 2, stride=2)),
            nn.ConvTranspose2d(in_channels, half, 2, stride=2),
            nn.Identity(),
            nn.MaxPool2d(2),
        ])
        self.out_channels = [quarter, half, in_channels, in_channels]

    def forward(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """One (B, C, H, W) map per level (or one shared) -> 4 maps.

        Returns:
            [(B, C/4, 4H, 4W), (B, C/2, 2H, 2W), (B, C, H, W),
            (B, C, H/2, W/2)].
        """
        if len(feats) == 1:
            feats = list(feats) * len(self.levels)
        return [level(f) for level, f in zip(self.levels, feats)]


def _canonical(key: str) -> str:
    """Key with ``_`` and ``.`` unified (timm's feature wrappers flatten
    ``stages.0`` to ``stages_0``)."""
    return key.replace('_', '.')


@MODELS.register_module()
class TimmMultiScaleBackbone(BaseModule):
    """A timm model (``features_only``) returning a list of NCHW maps.

    Hierarchical models (Swin, ConvNeXt, ...) return their stages; models
    whose features share one stride (ViT) go through a
    :class:`SimpleFeaturePyramid` to strides x4/x2/x1/x0.5 of that stride.
    The timm model is built with ``pretrained=False`` (no download);
    ``checkpoint`` loads a local timm state dict in :meth:`init_weights`.

    Args:
        model_name: timm model name, e.g. ``'convnext_atto'``.
        out_indices: timm feature indices (stages; for ViT, block indices).
            None: timm's default. Single-scale models take 1 index (one map
            feeds every pyramid level) or 4 (one per level); with None the
            last one is used.
        checkpoint: local ``.pth``/``.safetensors`` in timm's layout (the
            model family's checkpoint filter is applied, e.g. official Swin
            -> timm). Checked strictly apart from the classifier.
        model_kwargs: extra ``timm.create_model`` arguments (``img_size``,
            ``drop_path_rate``, ``window_size``, ...).
        init_cfg: unused by timm models; kept for mmengine.

    Attributes:
        out_channels (list[int]): channels of each returned map.
        out_strides (list[int]): their strides w.r.t. the input.
        model: the timm feature extractor; adapters target its module names,
            e.g. ``model\\.stages_\\d+\\.blocks\\.\\d+`` (ConvNeXt),
            ``model\\.layers_\\d+\\.blocks\\.\\d+\\.mlp`` (Swin),
            ``model\\.model\\.blocks\\.\\d+\\.mlp`` (ViT).
    """

    def __init__(self,
                 model_name: str,
                 out_indices: Optional[Sequence[int]] = None,
                 checkpoint: Optional[str] = None,
                 model_kwargs: Optional[Dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.model_name = model_name
        self.checkpoint = checkpoint
        self.model_kwargs = dict(model_kwargs or {})
        self.grid_shape: Optional[tuple] = None
        feature_kwargs = dict(features_only=True)
        if out_indices is not None:
            feature_kwargs['out_indices'] = tuple(out_indices)
        self.model = timm.create_model(model_name, pretrained=False,
                                       **feature_kwargs, **self.model_kwargs)
        info = self.model.feature_info
        channels, strides = info.channels(), info.reduction()
        fmt = getattr(self.model, 'output_fmt', 'NCHW')
        self.channels_last = getattr(fmt, 'value', fmt) == 'NHWC'
        self.single_scale = len(set(strides)) == 1
        if self.single_scale:
            if out_indices is None:
                self.pyramid_inputs = [len(channels) - 1]
            elif len(channels) in (1, 4):
                self.pyramid_inputs = list(range(len(channels)))
            else:
                raise ValueError(
                    f'{model_name} is single-scale: out_indices must name 1 '
                    f'or 4 blocks, got {tuple(out_indices)}')
            self.pyramid = SimpleFeaturePyramid(channels[-1])
            self.out_channels = self.pyramid.out_channels
            stride = strides[-1]
            self.out_strides = [stride // 4, stride // 2, stride, stride * 2]
        else:
            self.pyramid = None
            self.out_channels = list(channels)
            self.out_strides = list(strides)

    @property
    def is_vit(self) -> bool:
        """Whether the model is a timm ``VisionTransformer`` (plain ViT,
        DINOv2, register tokens) behind timm's feature getter."""
        return isinstance(getattr(self.model, 'model', None),
                          timm.models.VisionTransformer)

    def _vit_features(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The ViT's taps as maps, each reshaped by its own batch size.

        timm's own reshape uses the input's batch size, which would fold
        the task streams of an adapter region (``(S * B, L, C)``) into the
        channels; here every tap keeps its rows.
        """
        vit = self.model.model
        self.grid_shape = tuple(vit.patch_embed.dynamic_feat_size(
            x.shape[-2:]))
        taps = vit.forward_intermediates(
            x, indices=self.model.out_indices, norm=self.model.norm,
            output_fmt='NLC', intermediates_only=True)
        return [self.tokens_to_map(t) for t in taps]

    def tokens_to_map(self, tokens: torch.Tensor) -> torch.Tensor:
        """Patch tokens (N, H * W, C) of the current forward -> (N, C, H,
        W)."""
        height, width = self.grid_shape
        return tokens.reshape(tokens.shape[0], height, width, -1).permute(
            0, 3, 1, 2).contiguous()

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Image (B, 3, H, W) -> list of (B, C_i, H_i, W_i)."""
        feats = self._vit_features(x) if self.is_vit else self.model(x)
        if self.channels_last:
            feats = [f.permute(0, 3, 1, 2).contiguous() for f in feats]
        if self.pyramid is not None:
            feats = self.pyramid([feats[i] for i in self.pyramid_inputs])
        return list(feats)

    def init_weights(self) -> None:
        """Load ``checkpoint`` (timm's own init already ran at build).

        timm's ``init_weights`` methods are deliberately not called again:
        they would overwrite loaded weights.

        Raises:
            ValueError: when the checkpoint does not fit ``model_name``,
                naming the mismatching keys.
        """
        if self.checkpoint is None:
            return
        full = timm.create_model(self.model_name, pretrained=False,
                                 **self.model_kwargs)
        state = timm.models.load_state_dict(self.checkpoint)
        filter_fn = getattr(sys.modules[type(full).__module__],
                            'checkpoint_filter_fn', None)
        if filter_fn is not None:
            state = filter_fn(state, full)
        classifier = full.pretrained_cfg.get('classifier') or ()
        if isinstance(classifier, str):
            classifier = (classifier, )
        prefixes = tuple(f'{c}.' for c in classifier)
        target = {k: v for k, v in full.state_dict().items()
                  if not k.startswith(prefixes)}
        state = {k: v for k, v in state.items() if not k.startswith(prefixes)}
        problems = [f'{k}: checkpoint {tuple(v.shape)} vs model '
                    f'{tuple(target[k].shape)}' for k, v in state.items()
                    if k in target and v.shape != target[k].shape]
        problems += [f'missing {k}' for k in target if k not in state]
        problems += [f'unexpected {k}' for k in state if k not in target]
        if problems:
            raise ValueError(
                f'checkpoint {self.checkpoint} does not match timm model '
                f'{self.model_name} ({len(problems)} problems): ' +
                '; '.join(problems[:8]) + (' ...' if len(problems) > 8 else ''))
        by_canonical = {_canonical(k): k for k in state}
        loaded = {}
        for key in self.model.state_dict():
            source = by_canonical.get(_canonical(key))
            if source is None and key.startswith('model.'):
                source = by_canonical.get(_canonical(key[len('model.'):]))
            if source is not None:
                loaded[key] = state[source]
        missing, _ = self.model.load_state_dict(loaded, strict=False)
        missing = [k for k in missing if not k.endswith(
            ('relative_position_index', 'attn_mask'))]
        if missing:
            raise ValueError(f'could not place {len(missing)} weights of '
                             f'{self.checkpoint} in the feature extractor: '
                             f'{missing[:8]}')
        print_log(f'loaded {len(loaded)} tensors from {self.checkpoint} into '
                  f'{self.model_name}', logger='current')
