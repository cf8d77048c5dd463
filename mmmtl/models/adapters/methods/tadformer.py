"""TADFormer (task-adaptive dynamic transformer for efficient multi-task
learning), as in the paper and the official code
(https://github.com/Min100KM/TADFormer); equations in
``docs/en/methods/tadformer.md``.

On top of MTLoRA-style shared LoRA (qkv, proj, fc1, fc2 of every block):

* **Task prompts**: one token per task (stage-0 width), prepended to every
  window in every block's attention (bias and shift mask on patch pairs
  only, see the backbone support's prompted attention); after each block
  the prompts are updated with the block's MLP, ``p <- p + MLP(LN2(a_p))``
  (``a_p``: the attention output at the prompts, averaged over windows),
  and up-projected at each patch merging.
* **Per-task region** at the last block of each stage (as MTLoRA): task
  streams through proj / fc1 / fc2 with the *shared* LoRA matrices and a
  task filter between them, ``W x_shared + b + s B F_t(A z_t)``.
* **TPC** (proj of those blocks): ``z_t = LN(x + g_t * x)``, with g_t the
  GELU of task t's prompt-to-patch attention logits, one value per head
  broadcast over the head's channels.
* **Task filter** F_t: the Dynamic Task Filter shared by the tasks
  (``'dynamic'``, the paper) or one static depthwise conv per task
  (``'static'``, the released code); per window in proj, on the full map in
  fc1 / fc2.
* **Stage gate**: task t's stage output is
  ``sigmoid(g) * skip_t + (1 - sigmoid(g)) * stream_t`` before the patch
  merging, skip_t being the TPC feature ``g_t * x`` in token order.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone
from ..mechanism.context import PromptState, current_context
from ..mechanism.insertion import BoundHook
from ..mechanism.prompts import PromptCarrier
from ..mechanism.streams import join_streams, split_streams
from ..layers.lora import (LoRALinear, init_low_rank_, low_rank,
                           shared_stream_lora)
from .mtlora import per_stage
from ..layers.task_filters import build_task_filter

ROLES = ('qkv', 'proj', 'fc1', 'fc2')
TASK_ROLES = ('proj', 'fc1', 'fc2')
TADFORMER_TRAINABLE = ('patch_embed', 'norms', 'relative_position')
SKIP_LAYOUTS = ('released', 'tokens')
SKIP = 'tadformer_tpc_skip'
PROMPTS = 'tadformer_prompts'


@dataclass
class TaskPromptState(PromptState):
    """TADFormer's prompt state of a block: :class:`PromptState` plus the
    prompt-to-patch attention logits its TPC reads.

    Attributes:
        logits: unscaled prompt-to-patch attention logits q k^T of the
            latest prompted attention, (S * B * nW, heads, P, N), written by
            the prompted attention (it fills a ``logits`` field when the
            state has one) before its output projection runs.
    """

    logits: Optional[Tensor] = None


class TaskAwareLoRA(nn.Module):
    """Shared LoRA whose task streams pass a task filter (and, at proj,
    the TPC operator) between A and B; a replacement site for a Linear.

    Shared stream: ``W x + b + s B A x``. Task stream t inside a region:
    ``W x_shared + b + s B F_t(A z_t)`` on the window / patch tokens, with
    ``z_t = LN(x_t + g_t * x_t)`` at proj (TPC) and ``z_t = x_t`` else.
    The TPC feature ``g_t * x_t`` (T, M * nW, N, C) goes to
    ``context.carry`` for the stage gate.

    Args:
        in_features, out_features: of the adapted Linear.
        rank: r.
        scale: s.
        dropout: on the LoRA input.
        num_tasks: T.
        task_filter: ``'dynamic'`` or ``'static'``.
        num_heads: heads of the block's attention; enables TPC (proj).
        rows: what a row holds where the filter runs: ``'windows'``
            (square windows, Swin's attention) or ``'map'`` (the block's
            (H, W) map, ``context.hw_shape``).
        prefix_tokens: leading tokens of each row off the grid (a ViT's
            class and register tokens): they bypass the filter.
    """

    def __init__(self, in_features: int, out_features: int, rank: int,
                 scale: float, dropout: float, num_tasks: int,
                 task_filter: str = 'dynamic', num_heads: int = 0,
                 rows: str = 'map', prefix_tokens: int = 0):
        super().__init__()
        if rows not in ('windows', 'map'):
            raise ValueError(f"rows must be 'windows' or 'map', got {rows!r}")
        self.rows, self.prefix_tokens = rows, prefix_tokens
        self.in_features, self.out_features = in_features, out_features
        self.rank, self.scale, self.num_heads = rank, scale, num_heads
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.lora_a = nn.Parameter(torch.empty(rank, in_features))
        self.lora_b = nn.Parameter(torch.empty(out_features, rank))
        self.filter = build_task_filter(task_filter, rank, num_tasks)
        if num_heads:
            self.prompt_norm = nn.LayerNorm(in_features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_low_rank_(self.lora_a, self.lora_b)
        self.filter.reset_parameters()
        if self.num_heads:
            self.prompt_norm.reset_parameters()

    def forward_site(self, base: nn.Module, x: Tensor) -> Tensor:
        """x: (..., d_in), or inside a region (S * M, L, d_in) stacked
        streams; at proj L = P + N (prompts first)."""
        context = current_context()
        up = self.scale * self.lora_b
        if not context.stacked:
            return base(x) + low_rank(self.dropout(x), self.lora_a, up)
        streams = split_streams(context, x)
        frozen, dropped, shared = shared_stream_lora(
            base, streams.shared, self.dropout, self.lora_a, up)
        collapsed = streams.collapsed
        if collapsed:  # every task stream is the shared input, dropped once
            z = dropped.unsqueeze(0).expand(len(context.tasks),
                                            *dropped.shape)
        else:  # the released code drops out the shared input only
            z = streams.tasks
        num_prompts = 0
        if self.num_heads:
            num_prompts = context.prompts.length
            z = self._tpc(z[:, :, num_prompts:], context, collapsed)
        tasks = frozen[:, num_prompts:].unsqueeze(0) + self._filtered(
            z @ self.lora_a.t(), context) @ up.t()
        if num_prompts:
            prompt_rows = shared[:, :num_prompts].expand(
                tasks.shape[0], *shared[:, :num_prompts].shape)
            tasks = torch.cat([prompt_rows, tasks], dim=2)
        return join_streams(shared, tasks)

    def _tpc(self, z: Tensor, context, collapsed: bool) -> Tensor:
        """Task-prompt conditioning: z (T, M, N, C) -> LN(z + g * z)."""
        num_tasks, rows, length, channels = z.shape
        logits = context.prompts.logits
        if collapsed:  # the attention ran once, on the shared stream
            logits = logits.unsqueeze(0).expand(num_tasks, *logits.shape)
        else:
            logits = context.split(logits)[1:]
        index = torch.arange(num_tasks, device=z.device)
        gate = F.gelu(logits[index, :, :, index])
        heads = gate.shape[2]
        skip = (gate.permute(0, 1, 3, 2).unsqueeze(-1) * z.reshape(
            num_tasks, rows, length, heads, channels // heads)).reshape(
                num_tasks, rows, length, channels)
        context.carry[SKIP] = skip
        return self.prompt_norm(z + skip)

    def _filtered(self, low: Tensor, context) -> Tensor:
        """F_t on the rank-r maps: low (T, M, N, r) -> (T, M, N, r): square
        windows, or the block's (H, W) map after the prefix tokens (which
        pass unfiltered)."""
        prefix = self.prefix_tokens
        grid = low[:, :, prefix:]
        num_tasks, rows, length, rank = grid.shape
        if self.rows == 'windows':
            height = width = math.isqrt(length)
        else:
            height, width = context.hw_shape
        maps = grid.reshape(num_tasks * rows, height, width, rank).permute(
            0, 3, 1, 2)
        out = self.filter(maps).permute(0, 2, 3, 1).reshape(
            num_tasks, rows, length, rank)
        return torch.cat([low[:, :, :prefix], out], dim=2) if prefix else out

    def extra_repr(self) -> str:
        return (f'{self.in_features}->{self.out_features}, r={self.rank}, '
                f'scale={self.scale}, tpc={bool(self.num_heads)}')


class TaskPromptBank(nn.Module):
    """Wrapper-level prompt state of TADFormer.

    Attributes:
        tokens: (T, C_0), one prompt per task, truncated-normal with mean 1
            and std 1 on [-2, 2] (as the released code).
        up: per patch merging, ``Linear(C_i, 2 C_i, bias=False)`` lifting the
            prompts to the next stage (trunc-normal std 0.02).
        gates: (stages,), zero-initialised stage gates g.
        unused_norms: only with ``released_prompt_norms``: the released code
            builds a prompt LayerNorm in the proj of *every* block but uses
            those of the last block of each stage only; these are the never
            used ones, built so that parameter counts equal the published.
    """

    def __init__(self, num_tasks: int, channels: Sequence[int],
                 merges: Sequence[int], unused_norm_channels: Sequence[int]):
        super().__init__()
        self.tokens = nn.Parameter(torch.empty(num_tasks, channels[0]))
        self.up = nn.ModuleDict({
            str(stage): nn.Linear(channels[stage], 2 * channels[stage],
                                  bias=False)
            for stage in merges})
        self.gates = nn.Parameter(torch.zeros(len(channels)))
        self.unused_norms = nn.ModuleList(
            nn.LayerNorm(c) for c in unused_norm_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.tokens, mean=1.0, std=1.0, a=-2.0, b=2.0)
        for linear in self.up.values():
            nn.init.trunc_normal_(linear.weight, std=0.02)
        nn.init.zeros_(self.gates)
        for norm in self.unused_norms:
            norm.reset_parameters()


@MODELS.register_module()
class TADFormer(AdaptedBackbone):
    """TADFormer: prompts, TPC, task filters and stage gates on shared LoRA.

    Args:
        module: backbone config (mmseg Swin; ``SwinTransformerMTL(
            out_after_downsample=True)`` for the official stage outputs).
        tasks: task names.
        rank: shared LoRA rank r, one int or one per stage (16 / 32 / 64).
        scale: s.
        dropout: dropout on the LoRA inputs.
        task_filter: ``'dynamic'`` (the paper's DTF, shared by the tasks of
            a layer; reproduces the published parameter counts) or
            ``'static'`` (the released code: one depthwise conv per task).
        skip_layout: how the TPC feature re-enters token order for the stage
            gate: ``'released'`` reproduces the released code, which
            reinterprets the (windows, C, N) feature as (windows, N, C)
            without transposing (channels and positions mixed); ``'tokens'``
            transposes it.
        released_prompt_norms: also build the released code's never-used
            prompt LayerNorms (see :class:`TaskPromptBank`); needed for
            parameter counts equal to the published ones. They get no
            gradient, so DDP then needs ``find_unused_parameters=True``.
        trainable_groups: backbone parameter groups left trainable; None:
            patch embedding, norms and relative-position tables (the
            patch-merging reductions stay frozen as in the released recipe).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    default_trainable_groups = TADFORMER_TRAINABLE
    requires = ('names', 'regions', 'prompts', 'probes')

    def __init__(self, module: dict, tasks: Sequence[str],
                 rank: Union[int, Sequence[int]] = 16, scale: float = 4.0,
                 dropout: float = 0.05, task_filter: str = 'dynamic',
                 skip_layout: str = 'released',
                 released_prompt_norms: bool = False,
                 trainable_groups: Optional[Sequence[str]] = None,
                 trainable: Sequence[str] = (), init_cfg: dict = None):
        if skip_layout not in SKIP_LAYOUTS:
            raise ValueError(f'skip_layout {skip_layout!r} is not one of '
                             f'{SKIP_LAYOUTS}')
        self.rank, self.scale, self.dropout = rank, scale, dropout
        self.task_filter, self.skip_layout = task_filter, skip_layout
        self.released_prompt_norms = released_prompt_norms
        self.trainable_groups = (None if trainable_groups is None else
                                 tuple(trainable_groups))
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def insert_adapters(self) -> None:
        """LoRA / task-aware sites, prompted attention and prompt hooks in
        every block, prompt lifts at the mergings, per-task regions."""
        support = self.backbone_support()
        self._support = support
        self._carrier = PromptCarrier(support, PROMPTS, TaskPromptState)
        num_stages = support.num_stages
        ranks = per_stage(self.rank, num_stages, 'rank')
        task_blocks = {block for stage, block in support.blocks('last')
                       if support.out_index(stage) is not None}
        for stage, block in support.blocks():
            for role in ROLES:
                name = support.linear(block, role)
                self.replace(name, self._site_adapter(
                    self.module.get_submodule(name), ranks[stage], role,
                    support.num_heads(block)
                    if block in task_blocks and role in TASK_ROLES else None))
        blocks = support.blocks('all')
        final = blocks[-1][1]
        self._carrier.prompt_attention(self, [block for _, block in blocks])
        for stage, block in blocks:
            self.add_pre_hook(block, support.hw_probe())
            self.add_pre_hook(block, BoundHook(self, '_prompts_in', block))
            self.add_hook(block, BoundHook(
                self, '_prompts_out', block, stage, block in task_blocks,
                block != final))
        merges = self._carrier.downsamplings()
        for stage in merges:
            self.add_hook(support.downsample(stage),
                          BoundHook(self, '_lift', stage))
        channels = [support.channels(s) for s in range(num_stages)]
        unused = [channels[s] for s, block in blocks
                  if block not in task_blocks]
        self.add_shared('prompts', TaskPromptBank(
            len(self.tasks), channels, merges,
            unused if self.released_prompt_norms else []))
        self.add_regions(support.stage_regions(),
                         support.region_shared_segments())

    def _site_adapter(self, linear: nn.Linear, rank: int, role: str,
                      task_heads: Optional[int]) -> nn.Module:
        """Task-aware LoRA where ``task_heads`` is given (the task roles of
        the last block of an output stage; its heads feed the proj's task
        filter), else shared LoRA."""
        if task_heads is None:
            return LoRALinear(linear.in_features, linear.out_features, rank,
                              scale=self.scale, dropout=self.dropout)
        support = self._support
        return TaskAwareLoRA(
            linear.in_features, linear.out_features, rank, self.scale,
            self.dropout, len(self.tasks), self.task_filter,
            num_heads=task_heads if role == 'proj' else 0,
            rows=('map' if role != 'proj' or support.attention_rows ==
                  'sequence' else 'windows'),
            prefix_tokens=support.prefix_tokens)

    def prepare_context(self, context) -> None:
        """The prompts every image starts with, (B, T, C_0)."""
        tokens = self.shared['prompts'].tokens
        self._carrier.start(context, tokens.unsqueeze(0).expand(
            context.batch_size, *tokens.shape))

    def _prompts_in(self, block: str, module: nn.Module,
                    args: tuple) -> None:
        """Pre-hook of ``block``: its prompts through its first norm."""
        self._carrier.enter(block)

    def _prompts_out(self, block: str, stage: int, gate: bool, update: bool,
                     module: nn.Module, args: tuple,
                     output: Tensor) -> Tensor:
        """Hook of ``block``: stage gate on the task streams (last blocks),
        then the prompt update ``p + MLP(LN2(a_p))`` on the shared stream
        (all blocks but the final one, whose prompts are never used)."""
        if gate:
            output = self._gate(block, stage, output)
        self._carrier.leave(block, 'mlp_of_attention' if update else None)
        return output

    def _gate(self, block: str, stage: int, output: Tensor) -> Tensor:
        """Task streams of ``output`` (S * B, L, C) <- sigmoid(g) * skip +
        (1 - sigmoid(g)) * stream."""
        context = current_context()
        skip = context.carry.pop(SKIP)
        num_tasks, rows, length, channels = skip.shape
        if self.skip_layout == 'released':
            skip = skip.transpose(-1, -2).contiguous()
        windows = skip.view(num_tasks * rows, length, channels)
        tokens = self._support.windows_to_tokens(block, windows,
                                                 context.hw_shape)
        streams = context.split(output)
        weight = torch.sigmoid(self.shared['prompts'].gates[stage])
        tasks = weight * tokens.view_as(streams[1:]) + (
            1 - weight) * streams[1:]
        return join_streams(streams[0], tasks)

    def _lift(self, stage: int, module: nn.Module, args: tuple,
              output) -> None:
        """Hook of a patch merging: prompts to the next stage's width
        (TADFormer's own up-projection)."""
        self._carrier.lift(stage, self.shared['prompts'].up[str(stage)])
