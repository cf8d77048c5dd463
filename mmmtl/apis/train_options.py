"""Speed options of ``tools/train.py``: mixed precision and torch.compile.

:func:`add_speed_args` adds ``--amp``, ``--amp-dtype`` and ``--compile`` to
a parser; :func:`apply_speed_options` writes the parsed choices into the
config:

- ``--amp`` (``--amp-dtype float16``, the default): mmengine's
  ``AmpOptimWrapper`` with fp16 autocast and dynamic loss scaling; CUDA
  only (CPU autocast has no float16).
- ``--amp --amp-dtype bfloat16``: on CUDA, ``AmpOptimWrapper`` with
  ``dtype='bfloat16'``; without CUDA (mmengine's ``AmpOptimWrapper``
  refuses to be built there), :class:`AutocastOptimWrapper`, which runs the
  forward under CPU bf16 autocast. bf16 has the exponent range of fp32, so
  no loss scaling is needed. The wrapper is defined (and registered) in
  :mod:`mmmtl.engine.optim_wrapper`, so configs naming it build after
  ``register_all_modules()`` alone; it is re-exported here and from
  :mod:`mmmtl.apis`.
- ``--compile [BACKEND]``: ``cfg.compile``, which mmengine's runner turns
  into ``torch.compile`` of the model's ``train_step`` (default backend
  ``inductor``, which on CPU needs a C++ compiler).
"""
import argparse
import warnings

import torch
from mmengine.config import Config

from mmmtl.engine.optim_wrapper import AutocastOptimWrapper

AMP_DTYPES = ('float16', 'bfloat16')
COMPILE_BACKENDS = ('inductor', 'aot_eager', 'eager')

__all__ = ['AMP_DTYPES', 'COMPILE_BACKENDS', 'AutocastOptimWrapper',
           'add_speed_args', 'apply_amp', 'apply_compile',
           'apply_speed_options']


def add_speed_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--amp``, ``--amp-dtype`` and ``--compile`` to ``parser``."""
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision (fp16 needs CUDA; see --amp-dtype)')
    parser.add_argument(
        '--amp-dtype', choices=AMP_DTYPES, default=None,
        help='autocast dtype of --amp (default float16); bfloat16 also '
        'trains on CPU')
    parser.add_argument(
        '--compile', nargs='?', const='inductor', default=None,
        choices=COMPILE_BACKENDS, metavar='BACKEND',
        help='torch.compile the train step (backend: inductor (default), '
        'aot_eager or eager); the first iterations are slow while it '
        'compiles')


def apply_amp(cfg: Config, dtype: str, has_cuda: bool) -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision in ``dtype``.

    Raises:
        SystemExit: ``dtype`` is float16 and there is no CUDA device.
    """
    if dtype not in AMP_DTYPES:
        raise ValueError(f'--amp-dtype must be one of {AMP_DTYPES}, got '
                         f'{dtype!r}')
    wrapper = cfg.optim_wrapper
    if has_cuda:
        if wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            wrapper.type = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
    elif dtype == 'float16':
        raise SystemExit('--amp (float16) needs a CUDA device; this machine '
                         'has none. Use --amp --amp-dtype bfloat16 for CPU '
                         'mixed precision, or train in fp32 (drop --amp).')
    else:
        wrapper.type = 'AutocastOptimWrapper'
        wrapper.pop('loss_scale', None)
    wrapper.dtype = dtype


def apply_compile(cfg: Config, backend: str, has_cuda: bool) -> None:
    """Ask the runner to ``torch.compile`` the train step with ``backend``
    (with a warning on CPU, where compiling took minutes when measured,
    see docs/en/speed.md).

    Raises:
        SystemExit: this torch has no ``torch.compile``.
    """
    if not hasattr(torch, 'compile'):
        raise SystemExit(f'--compile needs torch >= 2.0 (this is '
                         f'{torch.__version__})')
    if backend not in COMPILE_BACKENDS:
        raise ValueError(f'--compile backend must be one of '
                         f'{COMPILE_BACKENDS}, got {backend!r}')
    if not has_cuda:
        warnings.warn(
            f'--compile ({backend}) on CPU: on the 2-core test machine the '
            'first iterations of even a tiny model took minutes to '
            'compile and no speed-up was measured (docs/en/speed.md)')
    cfg.compile = dict(backend=backend)


def apply_speed_options(cfg: Config, args: argparse.Namespace) -> Config:
    """Write ``args.amp``/``args.amp_dtype``/``args.compile`` into ``cfg``
    (in place; returns it).

    Raises:
        SystemExit: ``--amp-dtype`` without ``--amp``, or fp16 AMP
            without CUDA.
    """
    if args.amp_dtype is not None and not args.amp:
        raise SystemExit('--amp-dtype needs --amp')
    if args.amp:
        apply_amp(cfg, args.amp_dtype or 'float16',
                  torch.cuda.is_available())
    if args.compile is not None:
        apply_compile(cfg, args.compile, torch.cuda.is_available())
    return cfg
