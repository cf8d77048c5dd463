"""Engine: the runner (safe, checked checkpoint loading), runner hooks and
optim wrappers."""
from . import hooks
from .adapter_checkpoint import (base_fingerprint, is_adapter_checkpoint,
                                 load_adapter_checkpoint)
from .checkpoint_check import (CheckpointMismatchError, check_checkpoint_fits,
                               check_resumable)
from .hooks import *  # noqa: F401,F403
from .optim_wrapper import AutocastOptimWrapper
from .runner import MultiTaskRunner, build_runner, fill_dataset_tasks

__all__ = ['AutocastOptimWrapper', 'CheckpointMismatchError',
           'MultiTaskRunner', 'build_runner', 'fill_dataset_tasks',
           'base_fingerprint', 'is_adapter_checkpoint',
           'load_adapter_checkpoint',
           'check_checkpoint_fits', 'check_resumable', *hooks.__all__]
