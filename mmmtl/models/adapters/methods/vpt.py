"""Visual Prompt Tuning, VPT-shallow and VPT-deep (Jia et al., ECCV 2022),
on a frozen mmseg Swin as in the official code's Swin variant
(https://github.com/KMnP/vpt); equations in ``docs/en/methods/vpt.md``.

P learnable prompt tokens join the window attention of a block: the
prompts, through the block's first norm, are prepended to every window, so
each window attends over [P prompts; N tokens] (relative-position bias and
shift mask on token pairs only; the backbone support's
``PromptedWindowAttention``). The patch tokens keep their shape.

* **VPT-deep**: every block of every stage has its own prompts (P, C_stage);
  the prompt outputs of a block are discarded, the next block gets its own.
* **VPT-shallow**: one set of prompts (P, C_0) enters the first block and
  is carried from block to block: a prompt token goes through the block
  like any token, its attention output being the mean over the windows of
  its image, ``p <- p + a; p <- p + MLP(LN2(p))``. At each patch merging the
  prompts are lifted to the next width by the merging's own frozen norm and
  reduction applied to four copies of each prompt (``lift_at_merging``, the
  official code), or dropped there (prompts in the first stage only).

The prompts are shared by all tasks: one backbone pass, the backbone's
``list`` of stage features. The backbone is frozen entirely.
"""
import math
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone
from ..mechanism.context import current_context
from ..mechanism.insertion import BoundHook
from ..mechanism.prompts import PromptCarrier

DEPTHS = ('shallow', 'deep')
CARRY = 'vpt_prompts'


class VisualPrompts(nn.Module):
    """The learnable prompt tokens of VPT: one (P, C_k) tensor per prompted
    block k (VPT-deep) or one (P, C_0) tensor (VPT-shallow).

    Args:
        channels: C_k of every prompt tensor.
        num_prompts: P.
        bound: v, the tokens are initialised uniform on [-v, v].
        dropout: dropout on the prompt tokens before they enter a block.
    """

    def __init__(self, channels: Sequence[int], num_prompts: int,
                 bound: float, dropout: float):
        super().__init__()
        self.bound = bound
        self.tokens = nn.ParameterList(
            nn.Parameter(torch.empty(num_prompts, c)) for c in channels)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for tokens in self.tokens:
            nn.init.uniform_(tokens, -self.bound, self.bound)


def xavier_bound(patch_embed: nn.Conv2d) -> float:
    """v = sqrt(6 / (3 * patch_size**2 + C_0)): the xavier-uniform bound of
    the official code, from the patch embedding's input size and width
    (used for the prompts of every stage; the official code's merged-patch
    lift at a patch merging is the support's ``merge_tokens``)."""
    fan_in = patch_embed.in_channels * math.prod(patch_embed.kernel_size)
    return math.sqrt(6.0 / (fan_in + patch_embed.out_channels))


@MODELS.register_module()
class VPT(AdaptedBackbone):
    """Visual Prompt Tuning on a frozen Swin (mmseg ``SwinTransformer`` or
    ``SwinTransformerMTL``).

    Args:
        module: backbone config.
        tasks: task names (the prompts are shared by all of them).
        depth: ``'deep'`` (prompts in every block) or ``'shallow'`` (prompts
            entering the first block, carried through the network).
        num_prompts: P, prompts per prompted block; 0 gives the frozen
            backbone (the attention sites then run unprompted).
        dropout: dropout on the prompts entering a block (VPT-deep: one mask
            shared by the batch, VPT-shallow: one per image, as the official
            code).
        lift_at_merging: VPT-shallow only: carry the prompts through the
            patch mergings (official code) or drop them at the first one,
            leaving prompts in the first stage's blocks only.
        trainable_groups: backbone parameter groups left trainable (none:
            VPT trains the prompts alone).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    requires = ('names', 'prompts')

    def __init__(self, module: dict, tasks: Sequence[str],
                 depth: str = 'deep', num_prompts: int = 50,
                 dropout: float = 0.0, lift_at_merging: bool = True,
                 trainable_groups: Sequence[str] = (),
                 trainable: Sequence[str] = (), init_cfg: dict = None):
        if depth not in DEPTHS:
            raise ValueError(f'depth {depth!r} is not one of {DEPTHS}')
        if isinstance(num_prompts, bool) or not isinstance(
                num_prompts, int) or num_prompts < 0:
            raise ValueError(f'num_prompts must be an int >= 0, got '
                             f'{num_prompts!r}')
        self.depth, self.num_prompts = depth, num_prompts
        self.dropout, self.lift_at_merging = dropout, lift_at_merging
        self.trainable_groups = tuple(trainable_groups)
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    @property
    def deep(self) -> bool:
        """Whether this is VPT-deep."""
        return self.depth == 'deep'

    def prompted_blocks(self, support) -> List[Tuple[int, str]]:
        """``[(stage, block name)]`` of the blocks whose attention gets
        prompts: all, or the first stage's alone for VPT-shallow without
        ``lift_at_merging``."""
        blocks = support.blocks('all')
        if self.deep or self.lift_at_merging:
            return blocks
        return [(stage, block) for stage, block in blocks if stage == 0]

    def insert_adapters(self) -> None:
        """Prompted attention and prompt hooks in the prompted blocks, prompt
        lifts at the mergings (VPT-shallow), the prompt tokens."""
        support = self.backbone_support()
        self._carrier = PromptCarrier(support, CARRY)
        blocks = self.prompted_blocks(support)
        self._carrier.prompt_attention(self, [block for _, block in blocks])
        for index, (stage, block) in enumerate(blocks):
            self.add_pre_hook(block, BoundHook(self, '_prompts_in', index,
                                               block))
            carry = not self.deep and index < len(blocks) - 1
            self.add_hook(block, BoundHook(self, '_prompts_out', block,
                                           carry))
        if not self.deep and self.lift_at_merging:
            for stage in self._carrier.downsamplings():
                self.add_hook(support.downsample(stage),
                              BoundHook(self, '_lift', stage))
        channels = [support.channels(stage) for stage, _ in blocks]
        bound = xavier_bound(support.patch_embedding())
        self.add_shared('prompts', VisualPrompts(
            channels if self.deep else channels[:1], self.num_prompts,
            bound, self.dropout))

    def prepare_context(self, context) -> None:
        """VPT-shallow: the prompts every image starts with, (B, P, C_0),
        dropped out per image."""
        if self.deep:
            return
        prompts = self.shared['prompts']
        tokens = prompts.tokens[0]
        self._carrier.start(context, prompts.dropout(tokens.unsqueeze(
            0).expand(context.batch_size, *tokens.shape)))

    def _prompts_in(self, index: int, block: str, module: nn.Module,
                    args: tuple) -> None:
        """Pre-hook of prompted block ``index``: its prompts (VPT-deep: its
        own, one dropout mask for the batch; VPT-shallow: the carried ones)
        through its first norm."""
        if not self.num_prompts:
            return
        raw = None  # VPT-shallow: the carried prompts
        if self.deep:
            prompts = self.shared['prompts']
            tokens = prompts.dropout(prompts.tokens[index])
            raw = tokens.unsqueeze(0).expand(current_context().batch_size,
                                             *tokens.shape)
        self._carrier.enter(block, raw)

    def _prompts_out(self, block: str, carry: bool, module: nn.Module,
                     args: tuple, output: Tensor) -> None:
        """Hook of a prompted block: VPT-shallow carries the prompts on,
        ``p + drop(a)`` then the block's MLP residual, with ``a`` the
        prompts' attention output averaged over each image's windows; the
        block's prompt state is then cleared."""
        self._carrier.leave(block, 'through_block' if carry else None)

    def _lift(self, stage: int, module: nn.Module, args: tuple,
              output) -> None:
        """Hook of stage ``stage``'s patch merging: the carried prompts to
        the next stage's width (the support's ``merge_tokens``)."""
        self._carrier.lift(stage)


@MODELS.register_module()
class VPTDeep(VPT):
    """:class:`VPT` with ``depth='deep'``."""

    def __init__(self, module: dict, tasks: Sequence[str], **kwargs):
        super().__init__(module, tasks, depth='deep', **kwargs)


@MODELS.register_module()
class VPTShallow(VPT):
    """:class:`VPT` with ``depth='shallow'``."""

    def __init__(self, module: dict, tasks: Sequence[str], **kwargs):
        super().__init__(module, tasks, depth='shallow', **kwargs)
