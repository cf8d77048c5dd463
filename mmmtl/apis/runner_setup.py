"""Turn command-line options into a runnable config (used by tools/*.py).

Everything the train and test tools share lives here, so that both apply
the same device-dependent fixes (CPU launcher, SyncBN, AMP) with the same
messages.
"""
import argparse
import functools
import os
import os.path as osp
import re
import sys
import warnings
from typing import Any, Callable, Optional

import torch
from mmengine.config import Config, DictAction

from mmmtl.compat.dist import cpu_ddp_wrapper_cfg, init_cpu_process_group
from .cfg_options import check_cfg_options


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Options shared by the train and test tools: ``--cfg-options``,
    ``--unsafe-load``, ``--launcher`` and torchrun's ``--local-rank``."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='UNSAFE: fully unpickle checkpoints that hold types other than '
        'weights and mmengine training state; this runs code from the '
        'file, so use it only for files you trust')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv=None) -> argparse.Namespace:
    """Parse ``argv`` and export ``LOCAL_RANK`` for the launcher."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read the config file ``path`` and merge ``--cfg-options`` into it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        KeyError: a ``--cfg-options`` key matches nothing in the config
            (see :mod:`mmmtl.apis.cfg_options`); the message names it.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg._cfg_dict, cfg_options, path)
        cfg.merge_from_dict(cfg_options)
    return cfg


def replace_sync_bn(node: Any) -> int:
    """Replace ``SyncBN`` norm configs by ``BN`` in place; returns a count."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += replace_sync_bn(value)
    return count


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config name>`` like mmsegmentation."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


# Hooks every tool run gets, also with configs that replace custom_hooks:
# GracefulStopHook saves and exits cleanly on SIGTERM/SIGINT in training.
DEFAULT_HOOKS = ('GracefulStopHook', )


def add_default_hooks(cfg: Config) -> None:
    """Append each of :data:`DEFAULT_HOOKS` that ``cfg.custom_hooks`` lacks
    (a config that lists one keeps its own entry)."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {hook.get('type') for hook in hooks if isinstance(hook, dict)}
    for name in DEFAULT_HOOKS:
        if name not in present:
            hooks.append(dict(type=name))
    cfg.custom_hooks = hooks


def prepare_config(cfg: Config, *, config_path: str, launcher: str = 'none',
                   work_dir: Optional[str] = None, amp: bool = False,
                   unsafe_load: bool = False) -> Config:
    """Apply command-line choices and device fixes to ``cfg`` (in place).

    - ``work_dir``: CLI > config > ``work_dirs/<config name>``.
    - ``unsafe_load``: sets the config key ``unsafe_load`` (checkpoints are
      then fully unpickled, which runs code from them).
    - :data:`DEFAULT_HOOKS` are added to ``custom_hooks``
      (:func:`add_default_hooks`).
    - No CUDA: ``SyncBN`` becomes ``BN`` (with a warning); ``--amp`` raises,
      since mixed precision needs a GPU here; ``--launcher pytorch`` (from
      torchrun's variables) and ``--launcher slurm`` (from srun's
      ``SLURM_*`` variables) start a gloo process group and wrap the model
      in DDP without device ids.
    """
    cfg.launcher = launcher
    add_default_hooks(cfg)
    if unsafe_load:
        cfg.unsafe_load = True
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = default_work_dir(config_path)
    has_cuda = torch.cuda.is_available()
    if not has_cuda:
        if replace_sync_bn(cfg._cfg_dict):
            warnings.warn('No CUDA device: SyncBN layers were switched to BN.')
        if amp:
            raise SystemExit('--amp needs a CUDA device; this machine has '
                             'none. Train in fp32 on CPU (drop --amp).')
        if launcher in ('pytorch', 'slurm'):
            init_cpu_process_group(launcher)
            cfg.model_wrapper_cfg = cpu_ddp_wrapper_cfg(
                find_unused_parameters=cfg.get('find_unused_parameters',
                                               False))
            cfg.env_cfg = dict(cfg.get('env_cfg', {}),
                               dist_cfg=dict(backend='gloo'))
    if amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    return cfg


USER_ERRORS = (FileNotFoundError, KeyError, ValueError)
_WORKER_ERROR = re.compile(r'Caught \w+ in DataLoader worker process \d+\.\n'
                           r'Original Traceback')


def user_error_message(exc: BaseException) -> str:
    """The message of a user error, without the traceback text that
    torch's DataLoader puts in front of an error raised in a worker."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args \
        else str(exc)
    message = str(message)
    if not _WORKER_ERROR.match(message):
        return message
    # the worker's traceback ends with "<module>.<Type>: <message>"
    names = {type(exc).__name__, f'{type(exc).__module__}.'
             f'{type(exc).__qualname__}'}
    starts = [found.end() for name in names for found in re.finditer(
        rf'^{re.escape(name)}: ', message, flags=re.MULTILINE)]
    if not starts:
        return message
    message = message[max(starts):].rstrip()
    if isinstance(exc, KeyError) and message[:1] in '\'"':
        message = message[1:-1]  # the worker printed the KeyError's repr
    return message


def exit_on_user_error(main: Callable) -> Callable:
    """Print user errors (missing data, unknown task, bad annotation, ...)
    as one clear line and exit with status 2 instead of a deep traceback.

    Set ``MMMTL_DEBUG=1`` to get the full traceback.
    """
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as exc:
            if os.environ.get('MMMTL_DEBUG'):
                raise
            message = user_error_message(exc)
            print(f'error: {message}\n(set MMMTL_DEBUG=1 for the full '
                  'traceback)', file=sys.stderr)
            raise SystemExit(2)
    return wrapper
