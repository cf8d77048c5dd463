"""Workarounds for upstream incompatibilities.

Each fix lives in its own module and is documented there and in
``docs/en/compat.md``:

- :mod:`.mmcv_ops` -- a stand-in ``mmcv.ops`` when mmcv has no compiled ops
  (mmcv-lite), so that ``mmseg.models`` imports; applied by ``import mmmtl``.
- :mod:`.checkpoint` -- a scope in which mmengine loads checkpoints weights
  only (with the types mmengine saves allowed), so that resuming and testing
  work on torch >= 2.6 without running code from the file; entered by
  :class:`mmmtl.engine.MultiTaskRunner` around every load, never at import.
- :mod:`.dist` -- CPU-friendly process-group setup for ``torchrun`` and
  ``srun``.
"""
from .checkpoint import checkpoint_loading, load_local_checkpoint
from .mmcv_ops import install_mmcv_ops_stub

_APPLIED = False


def apply_all() -> None:
    """Apply every import-time fix (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    install_mmcv_ops_stub()
    _APPLIED = True


__all__ = ['apply_all', 'checkpoint_loading', 'install_mmcv_ops_stub',
           'load_local_checkpoint']
