"""Backbone support: what methods need from inside a backbone family.

Methods ask for capabilities (the linear layers of a role, per-task regions
at the last block of each stage, prompted window attention, the spatial
shape of the block being run) and the support module of the backbone's
family answers with module names and small functions that reuse the
backbone's own weights and code paths. One module per family.
"""
from typing import Optional

from torch import nn

from .mmseg_swin import MMSegSwinSupport, PromptedWindowAttention

SUPPORTS = (MMSegSwinSupport, )


def get_support(backbone: nn.Module) -> Optional[MMSegSwinSupport]:
    """The support of ``backbone``'s family, or None if it has none."""
    for support in SUPPORTS:
        if support.handles(backbone):
            return support(backbone)
    return None


def require_support(backbone: nn.Module, method: str) -> MMSegSwinSupport:
    """:func:`get_support`, raising a clear error when there is none."""
    support = get_support(backbone)
    if support is None:
        families = ', '.join(s.family for s in SUPPORTS)
        raise TypeError(
            f'{method} needs backbone support (per-task regions, named '
            f'linear roles, prompted attention), which exists for: '
            f'{families}; got {type(backbone).__name__}')
    return support


__all__ = ['get_support', 'require_support', 'MMSegSwinSupport',
           'PromptedWindowAttention']
