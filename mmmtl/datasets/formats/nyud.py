"""NYUD-v2 multi-task formats (the MTI-Net / InvPT ``NYUD_MT`` folder)."""
import numpy as np

from mmmtl.datasets.decoders import (ChannelError, load_npy,
                                     normalize_vectors, register_decoder)
from .common import read_indexed_png


@register_decoder('nyud_semseg')
def decode_nyud_semseg(path: str) -> np.ndarray:
    """40-class PNG, 0 = unlabelled -> uint8 (H, W): 0 -> 255, v -> v - 1."""
    raw = read_indexed_png(path).astype(np.int64)
    return np.where(raw == 0, 255, raw - 1).astype(np.uint8)


def _plane(path: str) -> np.ndarray:
    array = load_npy(path)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ChannelError(f'expected an (H, W) array, got shape '
                           f'{array.shape}: {path}')
    return array


@register_decoder('npy_depth')
def decode_npy_depth(path: str) -> np.ndarray:
    """Depth ``.npy`` in metres -> float32 (H, W); 0, negative, NaN -> 0."""
    depth = _plane(path).astype(np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    return np.where(valid, depth, 0.0).astype(np.float32)


@register_decoder('npy_normals')
def decode_npy_normals(path: str) -> np.ndarray:
    """Normals ``.npy`` (H, W, 3) in [-1, 1] -> unit float32 (H, W, 3).

    Zero (or non-finite) vectors become zero vectors: ignored.
    """
    normals = load_npy(path)
    if normals.ndim != 3 or normals.shape[2] != 3:
        raise ChannelError(f'expected (H, W, 3) normals, got shape '
                           f'{normals.shape}: {path}')
    normals = np.nan_to_num(normals.astype(np.float32), nan=0.0, posinf=0.0,
                            neginf=0.0)
    return normalize_vectors(normals)


@register_decoder('npy_edges')
def decode_npy_edges(path: str) -> np.ndarray:
    """Edge ``.npy`` (H, W), non-zero = edge -> uint8 (H, W) of 0/1."""
    return (_plane(path) > 0).astype(np.uint8)
