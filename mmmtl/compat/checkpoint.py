"""Load local checkpoints with ``weights_only=False``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6
that defaults to True and fails on the message-hub and optimizer state that
mmengine itself saved, breaking ``--resume`` and ``tools/test.py``. We
re-register mmengine's loader for local paths with ``weights_only=False``.
Only files on the local disk go through it (checkpoints the user points at).
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint written by torch/mmengine (not weights-only)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def patch_local_checkpoint_loader() -> None:
    """Make mmengine's local-file scheme use :func:`load_local_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                     force=True)
