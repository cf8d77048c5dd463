"""Which state-dict entries of a model training changes, and how a
checkpoint says that it holds only those (an adapter-only checkpoint).

A tensor entry of ``model.state_dict()`` is *trained* when it is

- a parameter with ``requires_grad``, or
- a buffer of a module that has a trainable parameter (its own or in its
  submodules), e.g. the running statistics of a batch norm in a task head;
  a module without any parameter (dropout, an ``affine=False`` norm, a
  buffer-only helper) counts as its parent does.

Every other entry -- frozen parameters, and buffers of modules whose
parameters are all frozen (the frozen backbone with its relative position
indices and frozen batch-norm statistics) -- belongs to the frozen *base*
that ``init_weights`` rebuilds from the config's pretrained weights.

Entries are matched by tensor identity, so replaced adapter sites (whose
state-dict keys drop ``base.``) and shared modules are classified right.
"""
from typing import Any, List, Mapping, Set

from mmengine.model import is_model_wrapper
from torch import nn

#: ``checkpoint['meta'][ADAPTER_ONLY_KEY]`` marks an adapter-only checkpoint.
ADAPTER_ONLY_KEY = 'mmmtl_adapter_only'


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP/FSDP wrapper (``model`` itself if none)."""
    return model.module if is_model_wrapper(model) else model


def _trained_buffer_ids(model: nn.Module) -> Set[int]:
    """``id`` of every buffer whose module is trained (module docstring)."""
    trained_module = {}
    ids = set()
    for name, module in model.named_modules(remove_duplicate=False):
        params = list(module.parameters())
        if params:
            trained = any(p.requires_grad for p in params)
        else:
            parent = name.rpartition('.')[0] if name else None
            trained = trained_module.get(parent, False)
        trained_module[name] = trained
        if trained:
            ids.update(id(b) for b in module.buffers(recurse=False))
    return ids


def trained_state_keys(model: nn.Module) -> List[str]:
    """State-dict keys (as ``model.state_dict()`` names them, without a
    wrapper's ``module.``) of the trained tensor entries, in state-dict
    order."""
    model = unwrap(model)
    buffers = _trained_buffer_ids(model)
    keys = []
    for key, value in model.state_dict(keep_vars=True).items():
        if isinstance(value, nn.Parameter):
            if value.requires_grad:
                keys.append(key)
        elif id(value) in buffers:
            keys.append(key)
    return keys


def is_adapter_checkpoint(checkpoint: Any) -> bool:
    """Whether ``checkpoint`` (a loaded file) is adapter-only: its
    ``meta`` has an ``mmmtl_adapter_only`` record."""
    if not isinstance(checkpoint, Mapping):
        return False
    meta = checkpoint.get('meta')
    return isinstance(meta, Mapping) and isinstance(
        meta.get(ADAPTER_ONLY_KEY), Mapping)
