"""Module replacement that keeps the backbone's state-dict keys.

:func:`replace_module` swaps a submodule of the backbone for an
:class:`AdaptedSite`, which holds the original module as its child ``base``
and hands every call to the site's adapter::

    adapter.forward_site(base, *args, **kwargs)

so the adapter decides how the original module is run (e.g. a LoRA site
computes ``base(x) + scale * B A x``; a prompted attention runs the original
weights on a longer token sequence). The adapter is only *referenced* by the
site: it lives on the wrapper (``AdaptedBackbone.adapters``), so it is
counted once and never seen by the backbone's own ``init_weights``.

State-dict keys stay those of the plain backbone: the site drops ``base.``
from the keys it saves and adds it to the keys it loads, so plain pretrained
checkpoints load into an adapted backbone and its checkpoints load into a
plain one. Parameter names (``named_parameters``) do contain ``base.``;
regular expressions over names such as ``'norm'`` or
``'relative_position_bias_table'`` match either way.
"""
from typing import Any, Dict, List

from torch import nn


class AdaptedSite(nn.Module):
    """A replaced backbone module: ``base`` (the original) + its adapter.

    Attributes that the site does not have are looked up on ``base``
    (``site.in_features``, ``site.weight``, ``site.window_size`` ...), so
    code reading the original module's attributes keeps working.

    Args:
        base: the original module.
        adapter: a module with ``forward_site(base, *args, **kwargs)``.
    """

    def __init__(self, base: nn.Module, adapter: nn.Module):
        super().__init__()
        if not hasattr(adapter, 'forward_site'):
            raise TypeError(f'{type(adapter).__name__} cannot replace a '
                            'module: it has no forward_site(base, ...)')
        self.base = base
        self.__dict__['site_adapter'] = adapter
        self.register_state_dict_post_hook(_drop_base_prefix)
        self.register_load_state_dict_pre_hook(_add_base_prefix)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.site_adapter.forward_site(self.base, *args, **kwargs)

    def init_weights(self) -> None:
        """The original module's own ``init_weights``, if it has one."""
        if hasattr(self.base, 'init_weights'):
            self.base.init_weights()

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == 'base' or name.startswith('__'):
                raise
            return getattr(super().__getattr__('base'), name)

    def extra_repr(self) -> str:
        return f'adapter={type(self.site_adapter).__name__}'


def _drop_base_prefix(module: nn.Module, state_dict: Dict, prefix: str,
                      local_metadata: Dict) -> None:
    """Saved keys ``<prefix>base.<rest>`` -> ``<prefix><rest>``."""
    inner = prefix + 'base.'
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner):]] = state_dict.pop(key)


def _add_base_prefix(module: nn.Module, state_dict: Dict, prefix: str,
                     local_metadata: Dict, strict: bool, missing_keys: List,
                     unexpected_keys: List, error_msgs: List) -> None:
    """Loaded keys ``<prefix><rest>`` -> ``<prefix>base.<rest>`` (keys that
    already carry ``base.`` are kept)."""
    inner = prefix + 'base.'
    for key in [k for k in state_dict
                if k.startswith(prefix) and not k.startswith(inner)]:
        state_dict[inner + key[len(prefix):]] = state_dict.pop(key)


def _parent(root: nn.Module, name: str):
    """The module that holds ``name``'s last component, and that component
    (inside an already replaced module: its ``base``)."""
    parent_name, _, child = name.rpartition('.')
    parent = root.get_submodule(parent_name) if parent_name else root
    while isinstance(parent, AdaptedSite):
        parent = parent.base
    return parent, child


def replace_module(root: nn.Module, name: str,
                   adapter: nn.Module) -> AdaptedSite:
    """Replace ``root``'s submodule ``name`` by an :class:`AdaptedSite`.

    Returns:
        The site now registered under ``name``.
    """
    parent, child = _parent(root, name)
    base = getattr(parent, child)
    if isinstance(base, AdaptedSite):
        raise KeyError(f'{name!r} is already replaced by an adapter site '
                       f'({type(base.site_adapter).__name__})')
    site = AdaptedSite(base, adapter)
    setattr(parent, child, site)
    return site


def restore_module(root: nn.Module, name: str) -> nn.Module:
    """Put the original module back in place of the site at ``name``."""
    parent, child = _parent(root, name)
    site = getattr(parent, child)
    if not isinstance(site, AdaptedSite):
        raise KeyError(f'{name!r} is not an adapter site')
    setattr(parent, child, site.base)
    return site.base
