"""Load checkpoints without running code from them.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6
then unpickles weights only and refuses the message-hub state that mmengine
itself saves (``HistoryBuffer``, numpy arrays and scalars), so ``--resume``
and ``tools/test.py`` fail. Unpickling with ``weights_only=False`` instead
runs whatever code the file names. mmmtl therefore loads every checkpoint
inside :func:`checkpoint_loading`, a scope (not an import-time patch) that

- reads local files with :func:`load_local_checkpoint`: ``weights_only``
  unpickling with :data:`CHECKPOINT_SAFE_GLOBALS`, the types mmengine
  writes, and errors that name the file;
- forces ``weights_only`` for every other ``torch.load`` in the scope
  (URLs, ``open-mmlab://``, third-party loaders) through torch's
  ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` and allows the same types there.

``unsafe=True`` is the explicit opt-in (``--unsafe-load``, config key
``unsafe_load``): local files loaded in the scope are then fully unpickled,
which runs code from the file.
"""
import contextlib
import contextvars
import importlib
import os
import os.path as osp
import re
import sys
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

FORCE_WEIGHTS_ONLY = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'
FORCE_NO_WEIGHTS_ONLY = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_CONFIG_KEY = ' (or set unsafe_load = True in the config)'
#: how each tool opts in to full unpickling (tools not listed cannot)
UNSAFE_LOAD_OPTIONS = {
    'tools/train.py': '--unsafe-load' + _CONFIG_KEY,
    'tools/test.py': '--unsafe-load' + _CONFIG_KEY,
    'tools/infer.py': '--unsafe-load',
    'tools/model_converters/adapter_checkpoint.py': '--unsafe-load',
    'tools/model_converters/swin2mmmtl.py': '--unsafe-load',
}
_RISK = 'that unpickles it fully and runs code from it'


def running_tool() -> Optional[str]:
    """The running script (``sys.argv[0]``) as ``tools/<...>.py`` when it
    is one of mmmtl's tools, else None (Python API, tests)."""
    script = sys.argv[0] if sys.argv else ''
    if not script.endswith('.py'):
        return None
    path = osp.relpath(osp.abspath(script), _REPO).replace(os.sep, '/')
    return path if path.startswith('tools/') else None


def opt_in_hint() -> str:
    """How to load a refused file anyway, for the tool that is running."""
    tool = running_tool()
    if tool in UNSAFE_LOAD_OPTIONS:
        return (f'pass {UNSAFE_LOAD_OPTIONS[tool]} to {tool} only if you '
                f'trust the file: {_RISK}')
    if tool is not None:
        return (f'{tool} has no option to load such files; only if you '
                'trust the file, load it fully yourself (torch.load with '
                'weights_only=False) and save its weights with torch.save')
    return ('pass --unsafe-load to tools/train.py, tools/test.py or '
            'tools/infer.py (unsafe_load=True in Python, or unsafe_load = '
            f'True in the config) only if you trust the file: {_RISK}')


# numpy dtypes whose arrays and scalars may appear (no object/void dtypes).
_NUMPY_TYPECODES = '?bhilqnpBHILQNPefdgFDGSU'
try:
    _MULTIARRAY = importlib.import_module('numpy._core.multiarray')
except ImportError:  # numpy < 1.26
    _MULTIARRAY = importlib.import_module('numpy.core.multiarray')
_UNSAFE = contextvars.ContextVar('mmmtl_unsafe_checkpoint_loading',
                                 default=False)
_REFUSED_PATTERNS = (r'GLOBAL (\S+) was not an allowed global',
                     r'GLOBAL (\S+) whose module \S+ is blocked',
                     r'unrecognized function (.+?)(?: which belongs|$)',
                     r'new object for nn.Parameter or classes allowlisted '
                     r'via `add_safe_globals` but got (.+)$',
                     r'refused (getattr\(.+\)): only HistoryBuffer')


class CheckpointReadError(ValueError):
    """A checkpoint file that cannot be read (message names the file)."""


class UnsafeCheckpointError(CheckpointReadError):
    """A checkpoint that pickles a type outside the allow-list."""


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """``getattr`` restricted to ``HistoryBuffer`` statistics methods.

    A ``HistoryBuffer`` pickles its statistics methods
    (``HistoryBuffer.min``, ...) as ``getattr(HistoryBuffer, 'min')``; any
    other ``getattr`` in a checkpoint is refused.
    """
    allowed = {'min', 'max', 'current', 'mean'}
    allowed |= set(HistoryBuffer._statistics_methods)
    if owner is not HistoryBuffer or name not in allowed:
        raise RuntimeError(f'refused getattr({owner!r}, {name!r}): only '
                           'HistoryBuffer statistics methods are allowed')
    return getattr(HistoryBuffer, name)


CHECKPOINT_SAFE_GLOBALS: List[Any] = [
    HistoryBuffer,
    (_history_buffer_method, 'builtins.getattr'),
    np.ndarray,
    np.dtype,
    (_MULTIARRAY._reconstruct, 'numpy._core.multiarray._reconstruct'),
    (_MULTIARRAY._reconstruct, 'numpy.core.multiarray._reconstruct'),
    (_MULTIARRAY.scalar, 'numpy._core.multiarray.scalar'),
    (_MULTIARRAY.scalar, 'numpy.core.multiarray.scalar'),
    *sorted({type(np.dtype(code)) for code in _NUMPY_TYPECODES}, key=str),
]
"""What :func:`load_local_checkpoint` unpickles besides torch's defaults:
the types mmengine writes into a checkpoint (message hub history buffers,
numpy arrays, scalars and dtypes, names of numpy 1 and 2)."""


def allowing_checkpoint_globals() -> contextlib.AbstractContextManager:
    """``torch.serialization.safe_globals`` for the entries of
    :data:`CHECKPOINT_SAFE_GLOBALS` not allowed yet, so that nested scopes
    and globals the user allowed stay allowed when it exits."""
    present = set(torch.serialization.get_safe_globals())
    return torch.serialization.safe_globals(
        [entry for entry in CHECKPOINT_SAFE_GLOBALS if entry not in present])


def _reason(err: BaseException) -> str:
    """The informative last line of a ``torch.load`` error, shortened."""
    lines = [line.strip() for line in str(err).splitlines()
             if line.strip() and not line.startswith('Check the doc')]
    reason = lines[-1].split('. ')[0] if lines else type(err).__name__
    return reason if len(reason) <= 160 else reason[:157] + '...'


def _refused_global(err: BaseException) -> Optional[str]:
    """The type a weights-only load refused, if that is why it failed."""
    text = str(err)
    for pattern in _REFUSED_PATTERNS:
        found = re.search(pattern, text, flags=re.MULTILINE)
        if found:
            name = found.group(1).strip()
            # torch drops the ``builtins.`` of built-in names
            return f'builtins.{name}' if name.isidentifier() else name
    return None


def load_local_checkpoint(filename: str, map_location: Any = None,
                          unsafe: Optional[bool] = None) -> Any:
    """Load the local checkpoint ``filename`` without running its code.

    Args:
        filename: path of a file written by ``torch.save``.
        map_location: as :func:`torch.load`.
        unsafe: unpickle fully (runs code from the file); the opt-in for
            files the user trusts that hold other types. ``None``: the
            choice of the enclosing :func:`checkpoint_loading` (else safe).

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the file pickles a type outside
            :data:`CHECKPOINT_SAFE_GLOBALS` (names the file and the type).
        CheckpointReadError: the file cannot be read (empty, truncated,
            not written by ``torch.save``, ...).
    """
    if unsafe is None:
        unsafe = _UNSAFE.get()
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        with allowing_checkpoint_globals():
            return torch.load(filename, map_location=map_location,
                              weights_only=not unsafe)
    except Exception as err:
        refused = None if unsafe else _refused_global(err)
        if refused is not None:
            raise UnsafeCheckpointError(
                f'refused to load checkpoint {filename}: it holds {refused}, '
                'which is not a type mmmtl/mmengine checkpoints hold and '
                f'could run code when loaded; {opt_in_hint()}.') from err
        raise CheckpointReadError(
            f'cannot read checkpoint {filename}: {_reason(err)} (is it a '
            'complete file written by torch.save?)') from err


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """:func:`load_local_checkpoint` as mmengine's local-scheme loader
    (its name tells mmengine's log the backend: ``local``)."""
    return load_local_checkpoint(filename, map_location)


@contextlib.contextmanager
def _environ(values: Dict[str, Optional[str]]) -> Iterator[None]:
    """Set (``None``: unset) environment variables; restore them on exit."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def checkpoint_loading(unsafe: bool = False) -> Iterator[None]:
    """Scope in which mmengine loads checkpoints without running code.

    Inside it, mmengine's local-file scheme uses
    :func:`load_local_checkpoint`, and every other ``torch.load`` unpickles
    weights only with :data:`CHECKPOINT_SAFE_GLOBALS` allowed. With
    ``unsafe=True`` :func:`load_local_checkpoint` unpickles fully instead
    (runs code from the file; a warning says so). Everything is restored
    on exit.
    """
    if unsafe:
        warnings.warn('unsafe checkpoint loading: local checkpoint files are '
                      'fully unpickled and may run code.')
        env = {FORCE_WEIGHTS_ONLY: None}
    else:
        env = {FORCE_WEIGHTS_ONLY: '1', FORCE_NO_WEIGHTS_ONLY: None}
    previous = CheckpointLoader._get_checkpoint_loader('')
    CheckpointLoader.register_scheme('', load_from_local, force=True)
    token = _UNSAFE.set(unsafe)
    try:
        with _environ(env), allowing_checkpoint_globals():
            yield
    finally:
        _UNSAFE.reset(token)
        CheckpointLoader.register_scheme('', previous, force=True)
