"""Morphological thinning of binary maps to one-pixel-wide lines.

Guo and Hall's parallel two-subiteration algorithm (algorithm A1 of Z. Guo
and R. W. Hall, "Parallel thinning with two-subiteration algorithms", Comm.
ACM 32(3), 1989), the one behind MATLAB's ``bwmorph(bw, 'thin', Inf)`` used
by the BSDS and SEISM edge benchmarks and behind
``skimage.morphology.thin``. :func:`thin` returns exactly what
``skimage.morphology.thin`` returns, but after a first pass over the
foreground it only re-examines the neighbours of the pixels just deleted,
so its cost grows with the number of deleted pixels instead of (number of
iterations) x (image size).
"""
from typing import Tuple

import numpy as np

#: (dy, dx) of the neighbours x1..x8 of Guo and Hall (counter-clockwise from
#: east); bit k of a pixel's neighbourhood code is neighbour x_{k+1}.
NEIGHBOURS = np.array([(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1),
                       (1, 0), (1, 1)])


def _deletion_tables() -> Tuple[np.ndarray, np.ndarray]:
    """Whether a foreground pixel is deleted, by its neighbourhood code.

    Conditions of algorithm A1 on the neighbours ``x1..x8`` (``x9 = x1``):
    G1 ``X_H = 1``, the number of ``i`` in 1..4 with ``x_{2i-1} = 0`` and
    ``x_{2i} or x_{2i+1}``; G2 ``2 <= min(n1, n2) <= 3`` with
    ``n1 = sum_k x_{2k-1} or x_{2k}`` and ``n2 = sum_k x_{2k} or
    x_{2k+1}``; G3 (first subiteration) ``(x2 or x3 or not x8) and x1`` is
    false; G3' (second) ``(x6 or x7 or not x4) and x5`` is false.

    Returns:
        two bool (256,) tables, for the first and the second subiteration.
    """
    codes = np.arange(256)
    x = [None] + [((codes >> k) & 1).astype(bool) for k in range(8)]
    x.append(x[1])
    crossings = sum((~x[2 * i - 1]) & (x[2 * i] | x[2 * i + 1])
                    for i in range(1, 5))
    n1 = sum(x[2 * k - 1] | x[2 * k] for k in range(1, 5))
    n2 = sum(x[2 * k] | x[2 * k + 1] for k in range(1, 5))
    smaller = np.minimum(n1, n2)
    g12 = (crossings == 1) & (smaller >= 2) & (smaller <= 3)
    first = g12 & ~((x[2] | x[3] | ~x[8]) & x[1])
    second = g12 & ~((x[6] | x[7] | ~x[4]) & x[5])
    return first, second


DELETION_TABLES = _deletion_tables()


def _live_neighbours(flat: np.ndarray, centres: np.ndarray,
                     around: np.ndarray, stamp: np.ndarray) -> np.ndarray:
    """Foreground pixels among ``centres`` and their 8 neighbours, once each.

    Args:
        flat: the padded image, raveled (uint8 0/1).
        centres: flat indices (N,) of interior pixels.
        around: flat offsets (9,) of a pixel and its neighbours.
        stamp: int64 scratch array of ``flat``'s size.

    Returns:
        flat indices (M,) without repetition.
    """
    near = (centres[:, None] + around).ravel()
    near = near[flat[near] == 1]
    position = np.arange(near.size)
    # whichever occurrence is written last, exactly one keeps its position
    stamp[near] = position
    return near[stamp[near] == position]


def thin(mask: np.ndarray) -> np.ndarray:
    """Thin the foreground of ``mask`` to lines one pixel wide.

    Args:
        mask: (H, W) bool or 0/1 map.

    Returns:
        bool (H, W), equal to ``skimage.morphology.thin(mask)``.
    """
    height, width = mask.shape
    stride = width + 2
    padded = np.zeros((height + 2, stride), dtype=np.uint8)
    padded[1:-1, 1:-1] = np.asarray(mask, dtype=bool)
    flat = padded.ravel()
    offsets = NEIGHBOURS[:, 0] * stride + NEIGHBOURS[:, 1]
    around = np.append(offsets, 0)
    stamp = np.zeros(flat.size, dtype=np.int64)
    candidates = np.flatnonzero(flat)
    previous = candidates[:0]
    step = idle = 0
    # a subiteration only changes pixels whose neighbourhood changed since
    # the last subiteration of its kind; two idle ones in a row: converged
    while idle < 2:
        codes = np.zeros(candidates.size, dtype=np.uint8)
        for bit, offset in enumerate(offsets):
            codes |= flat[candidates + offset] << bit
        removed = candidates[DELETION_TABLES[step % 2][codes]]
        flat[removed] = 0
        idle = 0 if removed.size else idle + 1
        if step == 0:
            candidates = candidates[flat[candidates] == 1]
        else:
            candidates = _live_neighbours(
                flat, np.concatenate([previous, removed]), around, stamp)
        previous = removed
        step += 1
    return padded[1:-1, 1:-1].astype(bool)
