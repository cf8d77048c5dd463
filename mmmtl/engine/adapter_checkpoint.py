"""Adapter-only checkpoints: the trained entries of a model, a fingerprint
of its frozen base weights and the config text, instead of every weight.

A parameter-efficient model (VMT-Adapter, MTLoRA, ...) trains a few MB of
adapters and heads on a frozen backbone of 100 MB and more. An adapter-only
checkpoint stores, in ``state_dict``, only the entries training changes
(:func:`~mmmtl.engine.trained_state.trained_state_keys`: parameters with
``requires_grad`` and the buffers of modules that have them, such as the
batch-norm statistics of the heads), and in
``checkpoint['meta']['mmmtl_adapter_only']``::

    dict(format_version=1,
         base_fingerprint='<sha256 hex>',  # of every entry not saved
         saved_keys=[...],                 # the keys of state_dict
         pretrained=[...],                 # the pretrained files used
         config='<cfg.pretty_text>')       # text only, never executed

Everything else of a training checkpoint (``optimizer``,
``param_schedulers``, ``message_hub``, ``meta.iter`` ...) stays, so runs
resume from it. It is loaded over a model that was built and initialised
as usual (``init_weights`` loads the config's pretrained backbone): the
saved entries must be exactly the ones the model trains, and the
fingerprint of the model's other entries must equal the recorded one
(:func:`load_adapter_checkpoint`). :func:`load_checkpoint_into` loads a
checkpoint file of either form into a model built from its config.
"""
import hashlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import torch
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn

from mmmtl.compat.checkpoint import checkpoint_loading
from .checkpoint_check import (CheckpointMismatchError, check_checkpoint_fits,
                               model_state_dict)
from .trained_state import (ADAPTER_ONLY_KEY, is_adapter_checkpoint,
                            trained_state_keys, unwrap)

__all__ = [
    'ADAPTER_ONLY_KEY', 'FORMAT_VERSION', 'BaseWeightsMismatchError',
    'adapter_state_dict', 'adapter_record', 'base_fingerprint',
    'is_adapter_checkpoint', 'load_adapter_checkpoint',
    'load_checkpoint_into', 'make_adapter_only', 'pretrained_sources',
    'trained_state_keys'
]

FORMAT_VERSION = 1
_HASH_HEADER = b'mmmtl-base-fingerprint-v1\0'
#: attributes under which backbones keep their pretrained file
#: (``SwinTransformerMTL.pretrained_path``,
#: ``TimmMultiScaleBackbone.checkpoint``).
_PRETRAINED_ATTRS = ('pretrained_path', 'checkpoint', 'pretrained')


class BaseWeightsMismatchError(CheckpointMismatchError):
    """An adapter-only checkpoint trained on other frozen base weights."""


def _tensor_bytes(tensor: Tensor) -> Tensor:
    """The values of ``tensor`` as CPU contiguous bytes (uint8, 1-D), the
    same whatever device or memory layout it has."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8)


def base_fingerprint(model: nn.Module,
                     saved_keys: Optional[Iterable[str]] = None) -> str:
    """sha256 (hex) over the sorted keys, shapes, dtypes and values of the
    tensor entries of ``model.state_dict()`` not in ``saved_keys`` (default:
    the model's trained entries), i.e. its frozen base.

    Identical on CPU and GPU and with or without a DDP wrapper.
    """
    model = unwrap(model)
    saved = set(trained_state_keys(model) if saved_keys is None
                else saved_keys)
    state = model.state_dict()
    digest = hashlib.sha256(_HASH_HEADER)
    for key in sorted(k for k, v in state.items()
                      if k not in saved and isinstance(v, Tensor)):
        value = state[key]
        digest.update(f'{key}\0{tuple(value.shape)}\0{value.dtype}\0'
                      .encode())
        digest.update(_tensor_bytes(value).numpy())
    return digest.hexdigest()


def adapter_state_dict(model: nn.Module) -> Dict[str, Tensor]:
    """The trained entries of ``model``'s state dict, as CPU copies."""
    model = unwrap(model)
    state = model.state_dict()
    return {k: state[k].detach().cpu().clone()
            for k in trained_state_keys(model)}


def pretrained_sources(model: nn.Module) -> List[str]:
    """The pretrained files the model's modules load in ``init_weights``
    (``pretrained``/``checkpoint`` arguments and ``init_cfg`` entries of
    type ``Pretrained``), in module order."""
    found: List[str] = []
    for module in unwrap(model).modules():
        names = [getattr(module, attr, None) for attr in _PRETRAINED_ATTRS]
        init_cfg = getattr(module, 'init_cfg', None)
        cfgs = [init_cfg] if isinstance(init_cfg, Mapping) else (
            list(init_cfg) if isinstance(init_cfg, (list, tuple)) else [])
        names += [c.get('checkpoint') for c in cfgs
                  if isinstance(c, Mapping) and c.get('type') == 'Pretrained']
        found += [n for n in names if isinstance(n, str) and n not in found]
    return found


def adapter_record(model: nn.Module, saved_keys: Sequence[str],
                   config_text: Optional[str] = None) -> dict:
    """The ``meta['mmmtl_adapter_only']`` record of a checkpoint that saves
    ``saved_keys`` of ``model`` (whose other entries are its base)."""
    return dict(format_version=FORMAT_VERSION,
                base_fingerprint=base_fingerprint(model, saved_keys),
                saved_keys=list(saved_keys),
                pretrained=pretrained_sources(model),
                config=config_text)


def make_adapter_only(checkpoint: dict, model: nn.Module,
                      config_text: Optional[str] = None) -> dict:
    """Turn the full ``checkpoint`` of ``model`` (its ``state_dict`` holds
    the model's current weights) into an adapter-only one, in place: keep
    the trained entries, add the meta record; returns ``checkpoint``.

    Raises:
        CheckpointMismatchError: ``state_dict`` lacks trained entries.
    """
    keys = trained_state_keys(model)
    state = model_state_dict(checkpoint, '<checkpoint being saved>')
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointMismatchError(
            f'cannot make an adapter-only checkpoint: its state_dict lacks '
            f'{len(missing)} trained entries of the model, e.g. {missing[:3]}')
    checkpoint['state_dict'] = {k: state[k].detach().cpu().clone()
                                for k in keys}
    meta = checkpoint.setdefault('meta', {})
    meta[ADAPTER_ONLY_KEY] = adapter_record(model, keys, config_text)
    return checkpoint


def _pretrained_text(sources: Any) -> str:
    if not sources:
        return 'none, a randomly initialised backbone'
    return ', '.join(map(str, sources))


def _record(checkpoint: Mapping, filename: str) -> Mapping:
    """The meta record of an adapter-only checkpoint (version checked)."""
    record = checkpoint['meta'][ADAPTER_ONLY_KEY]
    version = record.get('format_version')
    if version != FORMAT_VERSION:
        raise CheckpointMismatchError(
            f'adapter-only checkpoint {filename} has format version '
            f'{version!r}; this mmmtl reads version {FORMAT_VERSION}')
    saved = record.get('saved_keys')
    if not isinstance(saved, (list, tuple)) or not isinstance(
            record.get('base_fingerprint'), str):
        raise CheckpointMismatchError(
            f'adapter-only checkpoint {filename} records no saved_keys list '
            'or base_fingerprint in its meta; it is damaged')
    return record


def load_adapter_checkpoint(model: nn.Module, checkpoint: dict,
                            filename: str = '<checkpoint>',
                            revise_keys: Sequence[Sequence[str]] = (
                                (r'^module\.', ''), )) -> dict:
    """Load the adapter-only ``checkpoint`` over the initialised ``model``.

    Checks, in this order: the format version; the ``state_dict`` keys are
    the recorded ``saved_keys``; every saved key is one of the model's
    with its shape and every trained entry and task-head entry of the model
    is saved (:func:`~mmmtl.engine.checkpoint_check.check_checkpoint_fits`);
    the fingerprint of the model's other entries equals the recorded one.
    Then the saved entries are copied (``strict=False``: the base keeps the
    pretrained weights ``init_weights`` loaded).

    Args:
        model: the model (or its DDP wrapper), built from the config and
            initialised (``init_weights`` ran).
        checkpoint: the loaded file (:func:`is_adapter_checkpoint`).
        filename: named in the errors.
        revise_keys: key substitutions applied before loading.

    Returns:
        ``checkpoint``.

    Raises:
        ValueError: the model was not initialised.
        CheckpointMismatchError: unknown version, inconsistent keys, keys
            that do not fit the model.
        BaseWeightsMismatchError: the base fingerprints differ (one line
            naming both and the pretrained files).
    """
    model = unwrap(model)
    if not getattr(model, 'is_init', True):
        raise ValueError(
            f'adapter-only checkpoint {filename} loads over the pretrained '
            "base weights: call the model's init_weights() first")
    record = _record(checkpoint, filename)
    state = model_state_dict(checkpoint, filename, revise_keys)
    if sorted(state) != sorted(record['saved_keys']):
        raise CheckpointMismatchError(
            f'adapter-only checkpoint {filename} is damaged: its state_dict '
            f'keys ({len(state)}) are not the saved_keys its meta records '
            f"({len(record['saved_keys'])})")
    check_checkpoint_fits(model, checkpoint, filename, revise_keys,
                          initialised=True)
    current = base_fingerprint(model, state)
    if current != record['base_fingerprint']:
        raise BaseWeightsMismatchError(
            f'adapter-only checkpoint {filename} was trained on other frozen '
            f"base weights: base fingerprint {record['base_fingerprint']} "
            f"(pretrained: {_pretrained_text(record.get('pretrained'))}) in "
            f'the checkpoint, {current} for this model (config\'s '
            f'pretrained: {_pretrained_text(pretrained_sources(model))}); '
            'build the model with the pretrained weights the checkpoint was '
            'trained on, or use its full checkpoint')
    model.load_state_dict(state, strict=False)
    return checkpoint


def load_checkpoint_into(model: nn.Module, filename: str,
                         unsafe: bool = False) -> dict:
    """Read the checkpoint ``filename`` without running code from it and
    load it into ``model``, built from its config and not initialised.

    A full checkpoint must hold every entry of the model
    (:func:`~mmmtl.engine.checkpoint_check.check_checkpoint_fits`); an
    adapter-only one is loaded over the model initialised with its
    pretrained backbone (:func:`load_adapter_checkpoint`).

    Args:
        model: the model, as built (``init_weights`` did not run).
        filename: the checkpoint, as mmengine's loaders name it.
        unsafe: fully unpickle the file (runs code from it; trusted files
            only, see :func:`~mmmtl.compat.checkpoint.checkpoint_loading`).

    Returns:
        the loaded checkpoint.

    Raises:
        CheckpointReadError: the file cannot be read or is refused
            (:mod:`mmmtl.compat.checkpoint`).
        CheckpointMismatchError: it does not hold the model's weights.
    """
    with checkpoint_loading(unsafe=unsafe):
        checkpoint = _load_checkpoint(filename, map_location='cpu')
        adapter_only = is_adapter_checkpoint(checkpoint)
        if adapter_only:
            model.init_weights()
    if adapter_only:
        load_adapter_checkpoint(model, checkpoint, filename)
    else:
        check_checkpoint_fits(model, checkpoint, filename, initialised=False)
        model.load_state_dict(model_state_dict(checkpoint, filename))
    return checkpoint
