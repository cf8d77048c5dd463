"""Backbone support: what methods need from inside a backbone family.

Methods ask for capabilities (``names``, ``regions``, ``prompts``,
``probes``; see :mod:`.base`) and the support of the backbone's family
answers with module names and small functions that reuse the backbone's
own weights and code paths. One module per family.
"""
from typing import Optional, Sequence

from torch import nn

from .base import (CAPABILITIES, BackboneSupport, ProbeSupport,
                   PromptSupport, Region, RegionSupport,
                   UnsupportedBackboneError)
from .mmseg_swin import MMSegSwinSupport, PromptedWindowAttention
from .timm_convnext import TimmConvNeXtSupport
from .timm_swin import TimmSwinSupport
from .timm_vit import TimmViTSupport

SUPPORTS = (MMSegSwinSupport, TimmSwinSupport, TimmViTSupport,
            TimmConvNeXtSupport)


def get_support(backbone: nn.Module) -> Optional[BackboneSupport]:
    """The support of ``backbone``'s family, or None if it has none."""
    for support in SUPPORTS:
        if support.handles(backbone):
            return support(backbone)
    return None


def families_with(capability: str) -> str:
    """Families whose support implements ``capability``, for messages."""
    return ', '.join(s.family for s in SUPPORTS
                     if capability == 'names' or issubclass(s, {
                         'regions': RegionSupport, 'prompts': PromptSupport,
                         'probes': ProbeSupport}[capability]))


def require_support(backbone: nn.Module, method: str,
                    needs: Sequence[str] = ('names', )) -> BackboneSupport:
    """:func:`get_support`, checked for the capabilities ``needs``.

    Raises:
        UnsupportedBackboneError: naming the method, the missing capability
            and the backbone's family, and the families that have it.
    """
    unknown = [c for c in needs if c not in CAPABILITIES]
    if unknown:
        raise ValueError(f'unknown capabilities {unknown}; known: '
                         f'{sorted(CAPABILITIES)}')
    support = get_support(backbone)
    if support is None:
        name = getattr(backbone, 'model_name', None)
        what = type(backbone).__name__ + (f'({name!r})' if name else '')
        raise UnsupportedBackboneError(
            f'{method} needs backbone support ({", ".join(needs)}); {what} '
            f'has none. Supported families: '
            f'{", ".join(s.family for s in SUPPORTS)}', needs='support')
    for capability in needs:
        if capability not in support.capabilities:
            raise UnsupportedBackboneError(
                f'{method} needs backbone capability {capability!r} '
                f'({CAPABILITIES[capability]}), which {support.family} '
                f'does not have; families with it: '
                f'{families_with(capability)}', needs=capability)
    return support


__all__ = ['get_support', 'require_support', 'families_with', 'SUPPORTS',
           'CAPABILITIES', 'BackboneSupport', 'RegionSupport',
           'PromptSupport', 'ProbeSupport', 'Region',
           'UnsupportedBackboneError', 'MMSegSwinSupport', 'TimmSwinSupport',
           'TimmViTSupport', 'TimmConvNeXtSupport', 'PromptedWindowAttention']
