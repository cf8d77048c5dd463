"""Support for mmseg's ``SwinTransformer`` and mmmtl's ``SwinTransformerMTL``.

Module names (``named_modules()`` of the backbone)::

    patch_embed                          PatchEmbed
    stages.{i}                           SwinBlockSequence: returns
                                         (x_down, down_hw, x, hw)
    stages.{i}.blocks.{j}                SwinBlock, called as block(x, hw)
    stages.{i}.blocks.{j}.norm1 / norm2  LayerNorm
    stages.{i}.blocks.{j}.attn           ShiftWindowMSA (pad, shift, windows)
    stages.{i}.blocks.{j}.attn.w_msa     WindowMSA(windows, mask)
        .qkv / .proj                     Linear         roles 'qkv', 'proj'
    stages.{i}.blocks.{j}.ffn            FFN(x, identity) = identity + MLP(x)
        .layers.0.0 / .layers.1          Linear         roles 'fc1', 'fc2'
    stages.{i}.downsample                PatchMerging (stages 0..n-2)
    norm{i}                              output norm of output stage i
                                         (Identity in SwinTransformerMTL with
                                         out_after_downsample=True)
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.backbones import SwinTransformer
from torch import Tensor, nn

from ..mechanism.context import TaskContext, current_context
from ..mechanism.regions import residual_stack
from .base import (BackboneSupport, ProbeSupport, PromptSupport, Region,
                   RegionSupport)

ROLES = {
    'qkv': 'attn.w_msa.qkv',
    'proj': 'attn.w_msa.proj',
    'fc1': 'ffn.layers.0.0',
    'fc2': 'ffn.layers.1',
}
# Parameter groups a method may leave trainable (re.search over names).
TRAINABLE = {
    'patch_embed': r'^patch_embed\.',
    'norms': r'norm',
    'relative_position': r'relative_position_bias_table',
    'merge_reduction': r'downsample\.reduction',
}


class MMSegSwinSupport(BackboneSupport, RegionSupport, PromptSupport,
                       ProbeSupport):
    """Every capability, for an mmseg ``SwinTransformer``.

    Args:
        backbone: the (wrapped) Swin module.
    """

    family = 'mmseg SwinTransformer / SwinTransformerMTL'
    roles = ROLES
    trainable = TRAINABLE

    def __init__(self, backbone: nn.Module):
        super().__init__(backbone)
        self.depths = [len(stage.blocks) for stage in backbone.stages]
        self.out_indices = list(backbone.out_indices)
        self.after_downsample = bool(
            getattr(backbone, 'out_after_downsample', False))

    @staticmethod
    def handles(backbone: nn.Module) -> bool:
        return isinstance(backbone, SwinTransformer)

    # names ---------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.depths)

    def blocks(self, which: str = 'all') -> List[Tuple[int, str]]:
        if which not in ('all', 'last'):
            raise ValueError(f"which must be 'all' or 'last', got {which!r}")
        names = []
        for i, depth in enumerate(self.depths):
            first = depth - 1 if which == 'last' else 0
            names += [(i, f'stages.{i}.blocks.{j}')
                      for j in range(first, depth)]
        return names

    def mlp_sites(self) -> List[Tuple[int, str]]:
        """``[(stage, name)]`` of every block's MLP (mmcv ``FFN``, called as
        ``ffn(x, identity)`` and returning ``identity + MLP(x)``: a
        ``parallel`` hook adds ``adapter(x)``)."""
        return [(stage, f'{block}.ffn') for stage, block in self.blocks()]

    def attention(self, block: str) -> str:
        """Name of the window attention (``WindowMSA``) of ``block``."""
        return f'{block}.attn.w_msa'

    def mlp(self, block: str) -> str:
        """Name of the MLP layers of ``block`` (their output is the
        feed-forward branch before the FFN's drop path and residual)."""
        return f'{block}.ffn.layers'

    def downsample(self, stage: int) -> Optional[str]:
        """Name of stage ``stage``'s patch merging, or None."""
        if self.backbone.stages[stage].downsample is None:
            return None
        return f'stages.{stage}.downsample'

    def out_index(self, stage: int) -> Optional[int]:
        if stage not in self.out_indices:
            return None
        return self.out_indices.index(stage)

    def feature_after_downsample(self, stage: int) -> bool:
        """Whether output ``stage`` is taken after its patch merging."""
        return self.after_downsample and self.downsample(stage) is not None

    def channels(self, stage: int) -> int:
        return self.backbone.stages[stage].blocks[0].norm1.normalized_shape[0]

    def checkpointing_requested(self) -> bool:
        """``with_cp=True`` on the backbone's blocks."""
        return any(getattr(m, 'with_cp', False)
                   for m in self.backbone.modules())

    # regions ---------------------------------------------------------------
    def stage_regions(self) -> List[Region]:
        """Per-task regions from the last block of each output stage to the
        end of the stage (its patch merging included)."""
        regions = []
        for stage, block in self.blocks('last'):
            index = self.out_index(stage)
            if index is not None:
                regions.append(Region(block, f'stages.{stage}', index,
                                      self.stage_split(stage)))
        return regions

    def region_shared_segments(self) -> List[str]:
        """The window attention (``WindowMSA``) of each region's first
        block: every stream enters it equal and its first task-specific
        layer (proj) is its last, so qkv and softmax run once and proj
        expands the streams. (Not the enclosing ``ShiftWindowMSA``: it
        reshapes to the batch size it was called with.)"""
        return [self.attention(block) for stage, block in self.blocks('last')
                if self.out_index(stage) is not None]

    def residual_regions(self, indices: Sequence[int]) -> List[Region]:
        """Outputs taken after a patch merging (``SwinTransformerMTL(
        out_after_downsample=True)``): each task's output is the merging of
        (shared stage tokens + its residual), the mergings batched in one
        region per stage."""
        regions = []
        for stage in range(self.num_stages):
            index = self.out_index(stage)
            if index in indices and self.feature_after_downsample(stage):
                regions.append(Region(
                    self.downsample(stage), f'stages.{stage}', index,
                    self.stage_split(stage), residual_stack(index)))
        return regions

    def stage_split(self, stage: int) -> 'StageSplit':
        """``split`` for a region ending at ``stages.{stage}``."""
        return StageSplit(self.backbone, stage,
                          self.feature_after_downsample(stage))

    # block internals -------------------------------------------------------
    def block(self, name: str) -> nn.Module:
        return self.backbone.get_submodule(name)

    def prompted_attention(self) -> 'PromptedWindowAttention':
        return PromptedWindowAttention()

    def hw_probe(self) -> 'HWProbe':
        """Forward pre-hook for blocks setting ``context.hw_shape``."""
        return HWProbe()

    def norm1(self, block: str, x: Tensor) -> Tensor:
        """The block's pre-attention norm applied to tokens (..., C)."""
        return self.block(block).norm1(x)

    def attention_drop_path(self, block: str, x: Tensor) -> Tensor:
        """The block's drop path after its attention, applied to ``x``."""
        return self.block(block).attn.drop(x)

    def patch_embedding(self) -> nn.Conv2d:
        """The patch-embedding convolution (its fan-in and width set
        initialisation bounds, e.g. VPT's prompts)."""
        return self.backbone.patch_embed.projection

    def merge_tokens(self, stage: int, tokens: Tensor) -> Tensor:
        """Tokens through stage ``stage``'s patch merging as merged patches
        of ``k_h * k_w`` copies of themselves: (B, P, C) -> (B, P, C_out).

        mmseg's ``PatchMerging`` unfolds channel-major (channel c of the
        k-th patch at ``c * k_h * k_w + k``), so the copies are interleaved.
        """
        merge = self.backbone.get_submodule(self.downsample(stage))
        x = tokens.repeat_interleave(math.prod(merge.sampler.kernel_size),
                                     dim=-1)
        if merge.norm is not None:
            x = merge.norm(x)
        return merge.reduction(x)

    def mlp_residual(self, block: str, x: Tensor, identity: Tensor) -> Tensor:
        """``identity + drop_path(MLP(norm2(x)))`` with the block's weights,
        tokens (B, L, C)."""
        module = self.block(block)
        return module.ffn(module.norm2(x), identity=identity)

    def windows_to_tokens(self, block: str, windows: Tensor,
                          hw_shape: Tuple[int, int]) -> Tensor:
        """Undo the block's window partition and cyclic shift.

        Args:
            windows: (M * nW, window_size**2, C) in the block's (shifted,
                padded) window order.
            hw_shape: (H, W) of the block's tokens.

        Returns:
            Tokens (M, H * W, C).
        """
        attn = self.block(block).attn
        size = attn.window_size
        height, width = hw_shape
        pad_h, pad_w = (math.ceil(height / size) * size,
                        math.ceil(width / size) * size)
        channels = windows.shape[-1]
        x = attn.window_reverse(windows.view(-1, size, size, channels),
                                pad_h, pad_w)
        if attn.shift_size > 0:
            x = torch.roll(x, shifts=(attn.shift_size, attn.shift_size),
                           dims=(1, 2))
        x = x[:, :height, :width, :]
        return x.reshape(x.shape[0], height * width, channels)


class HWProbe:
    """Forward pre-hook: ``context.hw_shape`` = the (H, W) a block is called
    with (mmseg blocks are called as ``block(x, hw_shape)``)."""

    def __call__(self, module: nn.Module, args: tuple) -> None:
        current_context().hw_shape = tuple(int(v) for v in args[1])


class StageSplit:
    """Split the stacked output of a region ending at ``stages.{stage}``.

    The shared stream continues; each task's output-stage feature is taken
    as the backbone takes its own (after the merging, or before it through
    ``norm{stage}``) and laid out as (B, C, H, W). The stage's pre-merging
    tokens may be unstacked (a region of the merging alone).

    Args:
        backbone: the Swin module (for ``norm{stage}``).
        stage: stage index.
        after_downsample: whether the feature is the merged tokens.
    """

    def __init__(self, backbone: nn.Module, stage: int,
                 after_downsample: bool):
        self.backbone, self.stage = backbone, stage
        self.after_downsample = after_downsample

    def __call__(self, context: TaskContext,
                 output: tuple) -> Tuple[tuple, Dict[str, Tensor]]:
        x_down, down_hw, x, hw = output
        downs = context.split(x_down)
        xs = (x.unsqueeze(0) if x.shape[0] == context.batch_size else
              context.split(x))
        if self.after_downsample:
            feats, (height, width) = downs[1:], down_hw
        else:
            feats, (height, width) = xs[1:], hw
            norm = getattr(self.backbone, f'norm{self.stage}', None)
            if norm is not None:
                feats = norm(feats)
        num_tasks, batch = feats.shape[:2]
        feats = feats.view(num_tasks, batch, height, width, -1).permute(
            0, 1, 4, 2, 3).contiguous()
        return ((downs[0], down_hw, xs[0], hw),
                dict(zip(context.tasks, feats.unbind(0))))


class PromptedWindowAttention(nn.Module):
    """Window attention with prompt tokens, on an mmseg ``WindowMSA``'s own
    weights (a site adapter: ``replace(<block>.attn.w_msa, ...)``).

    When the context carries prompts (:class:`PromptState`, (B, P, C)), each
    window of N tokens attends over ``[P prompts; N tokens]``: the prompts
    are tiled over streams and windows, the relative-position bias and the
    shift mask apply to token-token pairs only, prompt queries and keys get
    neither. The output projection (``base.proj``, possibly an adapter site
    that reads the prompt logits) runs on all P + N positions. The window
    tokens' outputs are returned; the prompt positions' outputs of the
    shared stream, averaged over the windows of each image, go to
    ``context.prompts.out``; when the prompt state has a ``logits`` field
    (a method's subclass of :class:`PromptState`, e.g. TADFormer's), the
    unscaled logits q k^T of prompt queries against window keys,
    (S * B * nW, heads, P, N), go there (before the projection runs). Inside a
    region the windows are the stacked streams' (prompts tiled over them),
    or the shared stream's alone while the streams are collapsed.

    Without prompts in the context it is the original attention.
    """

    def reset_parameters(self) -> None:
        """No parameters of its own."""

    def forward_site(self, base: nn.Module, x: Tensor,
                     mask: Optional[Tensor] = None) -> Tensor:
        """x: windows (S * B * nW, N, C); mask: (nW, N, N) or None."""
        context = current_context()
        prompts = context.prompts
        if prompts is None:
            return base(x, mask)
        windows, length, channels = x.shape
        num_prompts = prompts.length
        tokens = prompts.tokens
        if context.stacked and not context.collapsed:
            tokens = context.stack(tokens)
        images = tokens.shape[0]
        per_image = windows // images
        tokens = tokens.unsqueeze(1).expand(
            images, per_image, num_prompts, channels).reshape(
                windows, num_prompts, channels)
        seq = torch.cat([tokens, x], dim=1)
        total, heads = num_prompts + length, base.num_heads
        qkv = base.qkv(seq).reshape(windows, total, 3, heads,
                                    channels // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = q @ k.transpose(-2, -1)
        attn = logits * base.scale + self._bias(base, num_prompts,
                                                length).unsqueeze(0)
        if mask is not None:
            groups = mask.shape[0]
            attn = attn.view(windows // groups, groups, heads, total, total)
            attn = attn + F.pad(mask, (num_prompts, 0, num_prompts, 0))[
                None, :, None]
            attn = attn.view(-1, heads, total, total)
        attn = base.attn_drop(base.softmax(attn))
        out = (attn @ v).transpose(1, 2).reshape(windows, total, channels)
        if hasattr(prompts, 'logits'):  # asked for by the prompt state
            prompts.logits = logits[:, :, :num_prompts, num_prompts:]
        shared_rows = windows // context.rows_per_stream
        out = base.proj_drop(base.proj(out))  # may expand collapsed streams
        prompts.out = out[:shared_rows, :num_prompts].reshape(
            shared_rows // per_image, per_image, num_prompts,
            channels).mean(1)
        return out[:, num_prompts:]

    @staticmethod
    def _bias(base: nn.Module, num_prompts: int, length: int) -> Tensor:
        """Relative-position bias (heads, P + N, P + N), zero on every pair
        that involves a prompt."""
        table = base.relative_position_bias_table[
            base.relative_position_index.view(-1)]
        bias = table.view(length, length, -1).permute(2, 0, 1)
        return F.pad(bias, (num_prompts, 0, num_prompts, 0))
