"""Check that a loaded checkpoint holds the weights of the model it loads
into, before mmengine copies it (which only logs what does not match).

A checkpoint fits when, after mmengine's key revision (``module.``
stripped), it has no unexpected keys and no shape mismatches and leaves no
trainable parameter and no task-head entry (``heads.<task>.*``) unloaded.
Frozen entries outside the heads may be missing only from a model that was
initialised (``init_weights`` ran, as in training: they keep e.g. their
pretrained backbone weights); a model that was not (``tools/test.py``)
needs every entry from the checkpoint. An adapter-only checkpoint
(:mod:`mmmtl.engine.adapter_checkpoint`) holds the trained entries only and
is loaded over an initialised model, so it must hold every trained entry
(:func:`~mmmtl.engine.trained_state.trained_state_keys`) and task-head
entry, whatever ``initialised`` says; its frozen base is checked by its
fingerprint when it is loaded.
"""
import re
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple)

import torch
from torch import nn

from .trained_state import is_adapter_checkpoint, trained_state_keys

HEAD_PREFIX = 'heads.'
SHOWN_KEYS = 5
RESUME_ENTRIES = ('meta', 'message_hub')


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not hold the weights of the model."""


def model_state_dict(checkpoint: Any, filename: str,
                     revise_keys: Sequence[Tuple[str, str]] = (
                         (r'^module\.', ''), )) -> Dict[str, torch.Tensor]:
    """The model weights of ``checkpoint`` as mmengine loads them.

    Raises:
        CheckpointMismatchError: the checkpoint holds no tensors to load.
    """
    state = checkpoint
    if isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        state = checkpoint['state_dict']
    tensors = {}
    if isinstance(state, Mapping):
        tensors = {k: v for k, v in state.items()
                   if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        entries = (sorted(map(str, checkpoint))[:SHOWN_KEYS]
                   if isinstance(checkpoint, Mapping) else [])
        raise CheckpointMismatchError(
            f'checkpoint {filename} holds no model weights (a '
            f'{type(checkpoint).__name__} with entries {entries}); give a '
            'checkpoint saved by tools/train.py.')
    for pattern, replacement in revise_keys:
        tensors = {re.sub(pattern, replacement, k): v
                   for k, v in tensors.items()}
    return tensors


def _listed(keys: List[str]) -> str:
    """``a, b, c (+N more)``."""
    shown = ', '.join(keys[:SHOWN_KEYS])
    more = len(keys) - SHOWN_KEYS
    return shown + (f' (+{more} more)' if more > 0 else '')


def _tasks(keys: Iterable[str]) -> List[str]:
    """Task names of the ``heads.<task>.`` keys."""
    return sorted({k[len(HEAD_PREFIX):].split('.')[0] for k in keys
                   if k.startswith(HEAD_PREFIX)})


def _origin(checkpoint: Any) -> str:
    """Where the checkpoint comes from, as its ``meta`` records it."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    name = meta.get('experiment_name') if isinstance(meta, Mapping) else None
    if not isinstance(name, str):
        return 'its meta names no config'
    config = re.sub(r'_\d{8}_\d{6}$', '', name)
    return f"saved from config '{config}', experiment '{name}'"


def check_checkpoint_fits(model: nn.Module, checkpoint: Any, filename: str,
                          revise_keys: Sequence[Tuple[str, str]] = (
                              (r'^module\.', ''), ),
                          initialised: Optional[bool] = None) -> None:
    """Refuse ``checkpoint`` unless it holds the weights of ``model``.

    Args:
        initialised: whether ``model`` was initialised, so that its frozen
            entries outside the heads may keep their values; ``None``:
            ``model.is_init`` (set by mmengine's ``init_weights``). An
            adapter-only ``checkpoint`` is checked as for an initialised
            model (its loader initialises the model first).

    Raises:
        CheckpointMismatchError: naming the file, the config it came from
            (when recorded), both models' tasks, and the missing, unexpected
            and mismatched keys (a few of each, with counts).
    """
    loaded = model_state_dict(checkpoint, filename, revise_keys)
    target = model.state_dict()
    if initialised is None:
        initialised = bool(getattr(model, 'is_init', False))
    required = set(target)
    if initialised or is_adapter_checkpoint(checkpoint):
        initialised = True
        required = set(trained_state_keys(model))
        required |= {k for k in target if k.startswith(HEAD_PREFIX)}
    missing = [k for k in target if k in required and k not in loaded]
    unexpected = [k for k in loaded if k not in target]
    mismatched = [f'{k} {tuple(v.shape)} vs {tuple(target[k].shape)}'
                  for k, v in loaded.items()
                  if k in target and v.shape != target[k].shape]
    if not (missing or unexpected or mismatched):
        return
    problems = []
    headless = sorted(set(_tasks(target)) - set(_tasks(loaded)))
    if headless:
        problems.append(f'no weights for the heads of tasks {headless}')
    if missing:
        what = ('trainable or task-head entries' if initialised else
                'entries of the uninitialised model')
        problems.append(f'{what} it would leave unloaded ({len(missing)}): '
                        f'{_listed(missing)}')
    if unexpected:
        problems.append(f'unexpected keys ({len(unexpected)}): '
                        f'{_listed(unexpected)}')
    if mismatched:
        problems.append(f'shape mismatches, checkpoint vs model '
                        f'({len(mismatched)}): {_listed(mismatched)}')
    raise CheckpointMismatchError(
        f'checkpoint {filename} does not hold the weights of this config\'s '
        f'model ({_origin(checkpoint)}; checkpoint tasks '
        f'{_tasks(loaded)}, model tasks {_tasks(target)}): '
        + '; '.join(problems) + '. Give the checkpoint of this config, or '
        "load partial weights with init_cfg=dict(type='Pretrained', ...).")


def check_resumable(checkpoint: Any, filename: str) -> None:
    """Refuse to resume from a checkpoint without training state.

    Raises:
        CheckpointMismatchError: ``meta`` (epoch, iter) or ``message_hub``
            is missing, naming the file and the missing entries.
    """
    meta = checkpoint.get('meta')
    lacking = [k for k in RESUME_ENTRIES if k not in checkpoint]
    if isinstance(meta, Mapping):
        lacking += [f'meta.{k}' for k in ('epoch', 'iter') if k not in meta]
    if lacking:
        raise CheckpointMismatchError(
            f'cannot resume from checkpoint {filename}: it has no '
            f'{", ".join(lacking)} (it holds weights only); start a new run '
            'from it with load_from instead of --resume.')
