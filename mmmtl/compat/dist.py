"""Distributed set-up that also works on CPU-only machines.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device``
unconditionally, so ``torchrun`` on CPU fails. Without CUDA we initialise a
``gloo`` process group ourselves before the Runner starts (the Runner skips
its own ``init_dist`` when a group exists) and wrap the model in DDP with
``device_ids=None``.
"""
import os

import torch
import torch.distributed as dist


def init_cpu_process_group(timeout_s: int = 1800) -> bool:
    """Start a gloo group from torchrun's env vars when CUDA is missing.

    Returns True when this call created the group.
    """
    if torch.cuda.is_available() or dist.is_initialized():
        return False
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise RuntimeError(
            '--launcher pytorch needs torchrun (RANK/WORLD_SIZE are unset).')
    import datetime
    dist.init_process_group(backend='gloo',
                            timeout=datetime.timedelta(seconds=timeout_s))
    return True


def cpu_ddp_wrapper_cfg(find_unused_parameters: bool = False) -> dict:
    """``model_wrapper_cfg`` for DDP on CPU processes."""
    return dict(type='MMDistributedDataParallel', device_ids=None,
                broadcast_buffers=False,
                find_unused_parameters=find_unused_parameters)
