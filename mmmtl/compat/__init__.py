"""Workarounds for upstream incompatibilities, applied once on ``import mmmtl``.

Each fix lives in its own module and is documented there and in
``docs/en/compat.md``:

- :mod:`.mmcv_ops` -- a stand-in ``mmcv.ops`` when mmcv has no compiled ops
  (mmcv-lite), so that ``mmseg.models`` imports.
- :mod:`.checkpoint` -- load local checkpoints with ``weights_only=False`` so
  that resuming and testing work on torch >= 2.6.
- :mod:`.dist` -- CPU-friendly process-group setup for ``torchrun``.
"""
from .checkpoint import patch_local_checkpoint_loader
from .mmcv_ops import install_mmcv_ops_stub

_APPLIED = False


def apply_all() -> None:
    """Apply every import-time fix (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    install_mmcv_ops_stub()
    patch_local_checkpoint_loader()
    _APPLIED = True


__all__ = ['apply_all', 'install_mmcv_ops_stub', 'patch_local_checkpoint_loader']
