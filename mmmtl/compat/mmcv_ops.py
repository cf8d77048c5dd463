"""A stand-in ``mmcv.ops`` for mmcv builds without compiled operators.

mmsegmentation 1.2.2 imports ``mmcv.ops`` unguarded in a few modules
(``point_sample``, ``sigmoid_focal_loss``), so ``import mmseg.models`` fails
with mmcv-lite. When ``mmcv._ext`` is missing we register a module named
``mmcv.ops`` that provides a pure-torch :func:`point_sample` and, for any other
name, a placeholder that raises a clear error when called. Dunder look-ups
raise ``AttributeError`` so pickling and introspection keep working.
"""
import importlib.util
import sys
import types

import torch
import torch.nn.functional as F


def point_sample(input: torch.Tensor, points: torch.Tensor,
                 align_corners: bool = False, **kwargs) -> torch.Tensor:
    """Sample ``input`` (B, C, H, W) at ``points`` (B, P, 2) or (B, Hp, Wp, 2).

    Points are relative coordinates in [0, 1]; returns (B, C, P) or
    (B, C, Hp, Wp), as mmcv's ``point_sample``.
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    out = F.grid_sample(input, 2.0 * points - 1.0,
                        align_corners=align_corners, **kwargs)
    return out.squeeze(3) if add_dim else out


def _missing_op(name: str):
    def placeholder(*args, **kwargs):
        raise RuntimeError(
            f'mmcv.ops.{name} needs the full mmcv build with compiled ops; '
            'this environment has mmcv-lite. Install `mmcv` (GPU machines) '
            'or choose a component that does not use it.')
    placeholder.__name__ = name
    return placeholder


class _OpsStub(types.ModuleType):
    """Module type whose unknown attributes are placeholders."""

    def __getattr__(self, name: str):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        return _missing_op(name)


def has_compiled_ops() -> bool:
    """Whether the installed mmcv ships its compiled extension."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def install_mmcv_ops_stub() -> bool:
    """Register the stand-in if needed; returns True when it was installed."""
    if has_compiled_ops():
        return False
    existing = sys.modules.get('mmcv.ops')
    if isinstance(existing, _OpsStub):
        return True
    import mmcv
    stub = _OpsStub('mmcv.ops', __doc__)
    stub.point_sample = point_sample
    stub.__mmmtl_stub__ = True
    sys.modules['mmcv.ops'] = stub
    mmcv.ops = stub
    return True
