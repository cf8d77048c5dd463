"""The backbone-support contract: what a method may ask of a backbone family.

A support object answers, for one backbone instance, in module names and
small functions that reuse the backbone's own weights. Its answers are
grouped by **capability**; a family implements the groups it can honour:

* ``names`` (:class:`BackboneSupport`, every family): blocks per stage, the
  linear layers of each role, the attention and MLP of a block, channels
  per stage, which stages are outputs, trainable parameter groups, whether
  the backbone asks for activation checkpointing;
* ``regions`` (:class:`RegionSupport`): per-task regions at the last block
  of each output stage, their shared segments, and regions that carry
  stage-point residuals through modules after the stage points;
* ``prompts`` (:class:`PromptSupport`): prompted attention and the pieces
  of a block that carry prompt tokens (norms, drop path, MLP residual,
  token merging at downsampling, window reversal);
* ``probes`` (:class:`ProbeSupport`): forward pre-hooks telling the spatial
  shape of the tokens a block runs on.

Methods declare the capabilities they need (``AdaptedBackbone.requires``);
asking a family for one it lacks raises :class:`UnsupportedBackboneError`
at build time, naming the capability and the family.
"""
from abc import ABC, abstractmethod
from typing import (Callable, Dict, FrozenSet, List, NamedTuple, Optional,
                    Sequence, Tuple)

from torch import Tensor, nn

from ..mechanism.regions import SplitFn, StackFn

#: capability -> what it provides (used in error messages and docs).
CAPABILITIES: Dict[str, str] = {
    'names': 'blocks, linear roles, attention/MLP names, channels per stage',
    'regions': 'per-task regions at output stages and their splits',
    'prompts': 'prompted attention and prompt carrying through blocks',
    'probes': "the spatial shape of a block's tokens",
}


class UnsupportedBackboneError(TypeError, ValueError):
    """A method asked a backbone family for something it does not have.

    Attributes:
        needs: what is missing, in a few words (a capability, ``attention``,
            a linear role, a parameter group), for tables and messages.
    """

    def __init__(self, message: str, needs: str = ''):
        super().__init__(message)
        self.needs = needs


class Region(NamedTuple):
    """Arguments of ``AdaptedBackbone.add_region`` placed by a support.

    Attributes:
        entry: module whose input is stacked into streams.
        exit: module whose output ``split`` separates; None: to the end.
        out_index: the output the task features replace (with ``exit``).
        split: the family's split of ``exit``'s output.
        stack: custom stacking of ``entry``'s input (None: copies).
        shared_stream: whether a shared stream runs next to the tasks'.
    """

    entry: str
    exit: Optional[str]
    out_index: Optional[int]
    split: Optional[SplitFn]
    stack: Optional[StackFn] = None
    shared_stream: bool = True


class BackboneSupport(ABC):
    """Capability ``names``: module names of a backbone family.

    Subclasses set :attr:`family`, :attr:`roles` (role -> module path
    relative to a block) and :attr:`trainable` (group -> regex over
    parameter names), and implement the abstract methods.

    Args:
        backbone: the backbone instance (the module a method wraps).
    """

    family: str = ''
    roles: Dict[str, str] = {}
    trainable: Dict[str, str] = {}
    #: regexes of parameters the family adds that no pretrained checkpoint
    #: holds (e.g. a feature pyramid); they always train.
    new_parameters: Tuple[str, ...] = ()

    def __init__(self, backbone: nn.Module):
        self.backbone = backbone

    @staticmethod
    @abstractmethod
    def handles(backbone: nn.Module) -> bool:
        """Whether ``backbone`` belongs to this family."""

    @property
    def capabilities(self) -> FrozenSet[str]:
        """The capability groups this support implements."""
        found = {'names'}
        for mixin, name in ((RegionSupport, 'regions'),
                            (PromptSupport, 'prompts'),
                            (ProbeSupport, 'probes')):
            if isinstance(self, mixin):
                found.add(name)
        return frozenset(found)

    def lacks(self, capability: str, what: str) -> UnsupportedBackboneError:
        """The error for a missing piece of a capability."""
        return UnsupportedBackboneError(
            f'{what} needs backbone capability {capability!r} '
            f'({CAPABILITIES.get(capability, capability)}), which '
            f'{self.family} does not have', needs=capability)

    # names ---------------------------------------------------------------
    @property
    @abstractmethod
    def num_stages(self) -> int:
        """Number of stages (block groups)."""

    @abstractmethod
    def blocks(self, which: str = 'all') -> List[Tuple[int, str]]:
        """``[(stage, block name)]``: every block (``'all'``) or the last
        block of every stage (``'last'``), in forward order."""

    @abstractmethod
    def channels(self, stage: int) -> int:
        """Channels of the tokens inside stage ``stage``'s blocks."""

    @abstractmethod
    def out_index(self, stage: int) -> Optional[int]:
        """Position of stage ``stage`` in the backbone's outputs, or None."""

    @abstractmethod
    def mlp(self, block: str) -> str:
        """Name of the module of ``block`` whose output is its MLP branch
        (before layer scale, drop path and residual, unless the family
        says otherwise in :meth:`mlp_sites`)."""

    def attention(self, block: str) -> str:
        """Name of ``block``'s attention (families without attention
        raise)."""
        raise UnsupportedBackboneError(
            f'{self.family} blocks have no attention', needs='attention')

    def num_heads(self, block: str) -> int:
        """Attention heads of ``block``."""
        return self.backbone.get_submodule(self.attention(block)).num_heads

    def linear(self, block: str, role: str) -> str:
        """Name of the linear layer of ``role`` in ``block``."""
        if role not in self.roles:
            raise UnsupportedBackboneError(
                f'unknown linear role {role!r} for {self.family} blocks; '
                f'known: {sorted(self.roles)}', needs=f'linear role {role}')
        return f'{block}.{self.roles[role]}'

    def role_sites(self, roles: Sequence[str], which: str = 'all'
                   ) -> List[Tuple[int, str, str]]:
        """``[(stage, role, module name)]`` of the linear layers of
        ``roles`` in ``which`` blocks, block by block."""
        return [(stage, role, self.linear(block, role))
                for stage, block in self.blocks(which) for role in roles]

    def mlp_sites(self) -> List[Tuple[int, str]]:
        """``[(stage, name)]`` of every block's MLP (:meth:`mlp`)."""
        return [(stage, self.mlp(block)) for stage, block in self.blocks()]

    def channels_first(self, name: str) -> bool:
        """Whether module ``name`` works on (B, C, H, W) maps rather than
        channels-last tokens (adapters there run through
        ``ChannelsFirst``)."""
        return False

    def block_of(self, name: str) -> str:
        """The block that holds module ``name``."""
        for _, block in self.blocks():
            if name == block or name.startswith(block + '.'):
                return block
        raise ValueError(f'{name!r} is inside no block of {self.family}')

    def trainable_patterns(self, groups: Sequence[str]) -> List[str]:
        """Regexes of parameter ``groups`` (keys of :attr:`trainable`)."""
        unknown = [g for g in groups if g not in self.trainable]
        if unknown:
            raise UnsupportedBackboneError(
                f'unknown trainable group(s) {unknown} for {self.family}; '
                f'known: {sorted(self.trainable)}',
                needs='parameter group ' + ', '.join(unknown))
        return [self.trainable[g] for g in groups]

    def checkpointing_requested(self) -> bool:
        """Whether the backbone was configured to checkpoint its blocks."""
        return False

    def stop_own_checkpointing(self) -> None:
        """Switch off the backbone's own block checkpointing (the adapter
        wrapper checkpoints the blocks itself); per-block ``with_cp`` flags
        need nothing here."""


class RegionSupport(ABC):
    """Capability ``regions``: per-task regions and their splits."""

    @abstractmethod
    def stage_regions(self) -> List[Region]:
        """A region from the last block of each output stage to where that
        stage's feature is taken (MTLoRA, TADFormer)."""

    @abstractmethod
    def region_shared_segments(self) -> List[str]:
        """Modules inside :meth:`stage_regions` whose input is equal in
        every stream (the attention of each region's first block, when its
        first task-specific layer is its last)."""

    def residual_regions(self, indices: Sequence[int]) -> List[Region]:
        """Regions carrying the stage-point residuals recorded for outputs
        ``indices`` through modules that run after the stage points (a
        patch merging, a feature pyramid), each stream starting from
        shared + its task's residual; none by default."""
        return []


class PromptSupport(ABC):
    """Capability ``prompts``: prompt tokens through the blocks."""

    @abstractmethod
    def prompted_attention(self) -> nn.Module:
        """A site adapter replacing :meth:`BackboneSupport.attention` that
        attends over prompts and tokens (``context.prompts``)."""

    @abstractmethod
    def norm1(self, block: str, x: Tensor) -> Tensor:
        """The block's pre-attention norm applied to tokens (..., C)."""

    @abstractmethod
    def attention_drop_path(self, block: str, x: Tensor) -> Tensor:
        """The block's drop path after its attention, applied to ``x``."""

    @abstractmethod
    def mlp_residual(self, block: str, x: Tensor, identity: Tensor) -> Tensor:
        """``identity + drop_path(MLP(norm2(x)))`` with the block's
        weights, tokens (B, L, C)."""

    @abstractmethod
    def downsample(self, stage: int) -> Optional[str]:
        """Name of the downsampling that ends stage ``stage``, or None."""

    @abstractmethod
    def merge_tokens(self, stage: int, tokens: Tensor) -> Tensor:
        """Prompt tokens through stage ``stage``'s downsampling."""

    @abstractmethod
    def patch_embedding(self) -> nn.Module:
        """The patch-embedding convolution."""

    @abstractmethod
    def windows_to_tokens(self, block: str, windows: Tensor,
                          hw_shape: Tuple[int, int]) -> Tensor:
        """Attention-layout rows (M * nW, N, C) back to tokens (M, L, C)."""


class ProbeSupport(ABC):
    """Capability ``probes``: spatial shapes of tokens.

    Attributes:
        attention_rows: what a row of the blocks' attention holds:
            ``'windows'`` (a square window of the block's map) or
            ``'sequence'`` (the block's whole token sequence).
        prefix_tokens: leading tokens of every sequence that are not on
            the (H, W) grid (class and register tokens).
    """

    attention_rows = 'windows'
    prefix_tokens = 0

    @abstractmethod
    def hw_probe(self) -> Callable:
        """Forward pre-hook for blocks setting ``context.hw_shape``."""
