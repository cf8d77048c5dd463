"""Distributed set-up that also works on CPU-only machines.

mmengine's ``pytorch`` and ``slurm`` launchers call ``torch.cuda.set_device``
unconditionally, so ``torchrun`` or ``srun`` on CPU fails. Without CUDA we
initialise a ``gloo`` process group ourselves before the Runner starts (the
Runner skips its own ``init_dist`` when a group exists) and wrap the model in
DDP with ``device_ids=None``.

For ``slurm`` the rendezvous variables are derived from srun's ``SLURM_*``
variables the way mmengine does it: ``RANK = SLURM_PROCID``, ``WORLD_SIZE =
SLURM_NTASKS``, ``LOCAL_RANK = SLURM_LOCALID``, ``MASTER_ADDR`` = the first
host of ``SLURM_NODELIST`` (unless already set) and ``MASTER_PORT`` (unless
already set) 29500.
"""
import datetime
import os
import re
import shutil
import subprocess

import torch
import torch.distributed as dist

#: torch.distributed's default rendezvous port.
DEFAULT_MASTER_PORT = '29500'

_SLURM_VARS = ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')


def first_host_of_nodelist(nodelist: str) -> str:
    """The first host of a slurm node list, without ``scontrol``.

    Handles plain names and one bracketed range or list per name, e.g.
    ``'gpu[03-05,09],cpu1'`` -> ``'gpu03'``, ``'node7,node8'`` -> ``'node7'``.
    """
    match = re.match(r'([^,\[]*)(?:\[([^\]]*)\])?', nodelist.strip())
    prefix, ranges = match.group(1), match.group(2)
    if not prefix and not ranges:
        raise ValueError(f'cannot read a host from SLURM_NODELIST '
                         f'{nodelist!r}')
    if ranges is None:
        return prefix
    return prefix + ranges.split(',')[0].split('-')[0]


def first_slurm_host(nodelist: str) -> str:
    """First host of ``nodelist``: ``scontrol show hostnames`` when slurm's
    ``scontrol`` is on ``PATH``, else :func:`first_host_of_nodelist`."""
    if shutil.which('scontrol'):
        out = subprocess.run(['scontrol', 'show', 'hostnames', nodelist],
                             capture_output=True, text=True, check=False)
        hosts = out.stdout.split()
        if out.returncode == 0 and hosts:
            return hosts[0]
    return first_host_of_nodelist(nodelist)


def export_slurm_env() -> None:
    """Set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` from the ``SLURM_*`` variables that srun sets."""
    missing = [name for name in _SLURM_VARS if name not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher slurm needs srun ({", ".join(missing)} unset); '
            'start it with tools/slurm_train.sh or tools/slurm_test.sh')
    rank = os.environ['SLURM_PROCID']
    os.environ['RANK'] = rank
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', rank)
    os.environ.setdefault('MASTER_PORT', DEFAULT_MASTER_PORT)
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = first_slurm_host(
            os.environ['SLURM_NODELIST'])


def init_cpu_process_group(launcher: str = 'pytorch',
                           timeout_s: int = 1800) -> bool:
    """Start a gloo group when CUDA is missing.

    Args:
        launcher: ``'pytorch'`` (torchrun's ``RANK``/``WORLD_SIZE``/
            ``MASTER_*`` variables) or ``'slurm'`` (srun's ``SLURM_*``
            variables, see :func:`export_slurm_env`).
        timeout_s: timeout of collective operations in seconds.

    Returns True when this call created the group.
    """
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(f'no CPU set-up for launcher {launcher!r}')
    if torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher == 'slurm':
        export_slurm_env()
    elif 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise RuntimeError(
            '--launcher pytorch needs torchrun (RANK/WORLD_SIZE are unset).')
    dist.init_process_group(backend='gloo',
                            timeout=datetime.timedelta(seconds=timeout_s))
    return True


def cpu_ddp_wrapper_cfg(find_unused_parameters: bool = False) -> dict:
    """``model_wrapper_cfg`` for DDP on CPU processes."""
    return dict(type='MMDistributedDataParallel', device_ids=None,
                broadcast_buffers=False,
                find_unused_parameters=find_unused_parameters)


def close_process_group() -> None:
    """Destroy the default process group once a run has finished.

    A process that exits with a live gloo group can abort in interpreter
    finalisation ("terminate called without an active exception", SIGABRT)
    while the group's worker threads are torn down. Called only after a run
    succeeded: a rank that failed must not wait in a collective shutdown.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
