"""Freezing policy shared by every parameter-efficient method.

A method's wrapper freezes the backbone it wraps except the parameters whose
name matches one of its ``trainable`` patterns (``re.search`` over names from
``named_parameters()``, e.g. ``r'norm'`` or ``'relative_position_bias_table'``)
and keeps its own adapter modules trainable. Batch-norm layers whose
parameters are all frozen stay in eval mode while training (their running
statistics belong to the pretrained backbone): see :func:`set_frozen_bn_eval`.
"""
import re
from typing import List, Sequence

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def freeze_except(module: nn.Module, patterns: Sequence[str]) -> List[str]:
    """Set ``requires_grad`` of ``module``'s parameters from ``patterns``.

    Args:
        module: the module to freeze.
        patterns: regular expressions; a parameter stays trainable when any
            of them is found (``re.search``) in its name.

    Returns:
        The names of the parameters left trainable.

    Raises:
        ValueError: if a pattern matches no parameter (the message names it).
    """
    regexes = [re.compile(p) for p in patterns]
    names = [name for name, _ in module.named_parameters()]
    for pattern, regex in zip(patterns, regexes):
        if not any(regex.search(name) for name in names):
            raise ValueError(
                f'trainable pattern {pattern!r} matches no parameter of '
                f'{type(module).__name__} (examples: {", ".join(names[:4])})')
    kept = []
    for name, param in module.named_parameters():
        keep = any(regex.search(name) for regex in regexes)
        param.requires_grad_(keep)
        if keep:
            kept.append(name)
    return kept


def set_frozen_bn_eval(module: nn.Module) -> None:
    """Put batch-norm layers of ``module`` whose parameters are all frozen
    (or that have none) in eval mode, so their running statistics stay."""
    for child in module.modules():
        if isinstance(child, _BatchNorm) and not any(
                p.requires_grad for p in child.parameters()):
            child.eval()
