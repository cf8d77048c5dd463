"""The lifecycle of prompt tokens carried through a backbone's blocks, shared
by the prompted methods (VPT, TADFormer).

The prompts live in ``context.carry[key]`` between blocks, (B, P, C) (one
set per image). A :class:`PromptCarrier`, built with the backbone support
(capability ``prompts``), runs the steps the methods' hooks call:

* :meth:`~PromptCarrier.start` (``prepare_context``): the prompts every
  image starts with;
* :meth:`~PromptCarrier.enter` (a block's forward pre-hook): the block's
  prompts through its first norm become ``context.prompts``, which the
  support's prompted attention (that replaces the block's attention, see
  :meth:`PromptCarrier.prompt_attention`) reads, writing the prompts'
  attention output to ``context.prompts.out``;
* :meth:`~PromptCarrier.leave` (the block's forward hook): optionally the
  carried prompts are updated from that output, on the shared stream, by
  one of :data:`UPDATES`; then the block's prompt state is cleared;
* :meth:`~PromptCarrier.lift` (a downsampling's forward hook): the carried
  prompts to the next stage's width (the support's ``merge_tokens``, or a
  method's own lift).

What prompts a block gets, which blocks update them and how they are lifted
stay with the methods.
"""
from typing import Callable, Dict, List, Optional, Type

from torch import Tensor

from .context import PromptState, TaskContext, current_context

#: ``update(support, block, carried, out) -> carried``: the carried prompts
#: after ``block`` from their attention output ``out`` (B, P, C).
Update = Callable[[object, str, Tensor, Tensor], Tensor]


def through_block(support, block: str, carried: Tensor,
                  out: Tensor) -> Tensor:
    """The prompts go through the block like tokens:
    ``p <- p + drop(a)``, then ``p <- p + drop(MLP(LN2(p)))`` (VPT)."""
    prompts = carried + support.attention_drop_path(block, out)
    return support.mlp_residual(block, prompts, identity=prompts)


def mlp_of_attention(support, block: str, carried: Tensor,
                     out: Tensor) -> Tensor:
    """``p <- p + drop(MLP(LN2(a)))``: the block's MLP on the attention
    output, added to the carried prompts (TADFormer)."""
    return support.mlp_residual(block, out, identity=carried)


UPDATES: Dict[str, Update] = {
    'through_block': through_block,
    'mlp_of_attention': mlp_of_attention,
}


class PromptCarrier:
    """Prompt tokens carried in ``context.carry[key]`` (module docstring).

    Args:
        support: the backbone support (capability ``prompts``).
        key: the ``context.carry`` key of the carried prompts.
        state: the :class:`PromptState` (sub)class a block's prompts are
            held in (a method may add fields the attention fills).
    """

    def __init__(self, support, key: str,
                 state: Type[PromptState] = PromptState):
        self.support, self.key, self.state = support, key, state

    def prompt_attention(self, method, blocks: List[str]) -> None:
        """Replace the attention of every block of ``blocks`` by the
        support's prompted attention (``method.replace``)."""
        for block in blocks:
            method.replace(self.support.attention(block),
                           self.support.prompted_attention())

    def downsamplings(self) -> List[int]:
        """The stages that end in a downsampling (where prompts are
        lifted)."""
        return [stage for stage in range(self.support.num_stages)
                if self.support.downsample(stage)]

    def start(self, context: TaskContext, tokens: Tensor) -> None:
        """The prompts every image starts with, (B, P, C)."""
        context.carry[self.key] = tokens

    def enter(self, block: str, tokens: Optional[Tensor] = None) -> None:
        """``context.prompts``: ``tokens`` (B, P, C), by default the
        carried prompts, through ``block``'s first norm."""
        context = current_context()
        if tokens is None:
            tokens = context.carry[self.key]
        context.prompts = self.state(
            tokens=self.support.norm1(block, tokens))

    def leave(self, block: str, update: Optional[str] = None) -> None:
        """After ``block``: with ``update`` (a key of :data:`UPDATES`) and
        prompts in the block, the carried prompts are updated from their
        attention output (shared stream); the block's prompts are
        cleared."""
        context = current_context()
        if update is not None and context.prompts is not None:
            with context.shared_only():
                context.carry[self.key] = UPDATES[update](
                    self.support, block, context.carry[self.key],
                    context.prompts.out)
        context.prompts = None

    def lift(self, stage: int,
             lift: Optional[Callable[[Tensor], Tensor]] = None) -> None:
        """At stage ``stage``'s downsampling, the carried prompts (if any)
        to the next width: ``lift(tokens)``, by default the support's
        ``merge_tokens``."""
        context = current_context()
        if self.key not in context.carry:
            return
        tokens = context.carry[self.key]
        context.carry[self.key] = (self.support.merge_tokens(stage, tokens)
                                   if lift is None else lift(tokens))
