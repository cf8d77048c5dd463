"""One-to-one matching of predicted and ground-truth edge pixels (BSDS).

The BSDS boundary benchmark (D. Martin, C. Fowlkes and J. Malik, "Learning
to detect natural image boundaries using local brightness, color, and
texture cues", TPAMI 26(5), 2004; ``correspondPixels`` of the BSDS500
benchmark) pairs each predicted edge pixel with at most one ground-truth
edge pixel, and vice versa, when they lie within a distance ``radius``. A
predicted pixel is correct, and a ground-truth pixel recalled, when it is
paired. ``correspondPixels`` solves a minimum-cost assignment in which an
unpaired pixel costs 100 x ``radius``, which (short of pathological
layouts) maximises the number of pairs; :class:`EdgeMatcher` counts the
pairs of a maximum-cardinality matching (a maximum flow, Dinic's algorithm)
over the pairs within ``radius`` only, found with a window of the disk's
offsets: nothing of size (#predicted x #ground truth) is built.
"""
import math

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

#: at most this many (pixel, offset) candidates are gathered at once.
CHUNK = 1 << 20


def disk_offsets(radius: float) -> np.ndarray:
    """Integer offsets (K, 2) ``(dy, dx)`` with ``dy^2 + dx^2 <= radius^2``.
    """
    reach = int(math.floor(radius))
    dy, dx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    inside = dy * dy + dx * dx <= radius * radius
    return np.stack([dy[inside], dx[inside]], axis=1)


class EdgeMatcher:
    """Matches predicted edge maps against one ground-truth edge map.

    Args:
        gt: bool (H, W), the ground-truth edge pixels.
        radius: largest distance (pixels) of a matched pair.
    """

    def __init__(self, gt: np.ndarray, radius: float) -> None:
        if radius < 0:
            raise ValueError(f'radius must be >= 0, got {radius}')
        gt = np.asarray(gt, dtype=bool)
        self.offsets = disk_offsets(radius)
        self.pad = int(math.floor(radius))
        self.num_gt = int(gt.sum())
        index = np.full(gt.shape, -1, dtype=np.int64)
        index[gt] = np.arange(self.num_gt)
        #: (H + 2 pad, W + 2 pad) id of each gt pixel, -1 elsewhere
        self.index = np.pad(index, self.pad, constant_values=-1)
        footprint = np.zeros((2 * self.pad + 1, ) * 2, dtype=bool)
        footprint[tuple((self.offsets + self.pad).T)] = True
        #: (H, W) whether a gt pixel lies within ``radius``
        self.reachable = ndimage.binary_dilation(gt, structure=footprint)

    def candidate_pairs(self, pred: np.ndarray) -> np.ndarray:
        """Pairs within ``radius`` of predicted and gt pixels.

        Args:
            pred: bool (H, W), the predicted edge pixels.

        Returns:
            int64 (P, 2): (index among the reachable predicted pixels in
            row-major order, gt pixel id).
        """
        rows, cols = np.nonzero(np.asarray(pred, dtype=bool) &
                                self.reachable)
        step = max(1, CHUNK // len(self.offsets))
        pairs = []
        for start in range(0, rows.size, step):
            ys = rows[start:start + step, None] + self.pad + self.offsets[:, 0]
            xs = cols[start:start + step, None] + self.pad + self.offsets[:, 1]
            gt_ids = self.index[ys, xs]
            pred_ids, which = np.nonzero(gt_ids >= 0)
            pairs.append(np.stack([pred_ids + start,
                                   gt_ids[pred_ids, which]], axis=1))
        if not pairs:
            return np.zeros((0, 2), dtype=np.int64)
        return np.concatenate(pairs)

    def count_matches(self, pred: np.ndarray) -> int:
        """Size of a maximum one-to-one matching within ``radius``.

        Args:
            pred: bool (H, W), the predicted edge pixels.

        Returns:
            the number of matched predicted pixels, which is also the number
            of matched gt pixels.
        """
        pairs = self.candidate_pairs(pred)
        if not pairs.size:
            return 0
        num_pred = int(pairs[:, 0].max()) + 1
        source = num_pred + self.num_gt
        sink = source + 1
        tails = np.concatenate([np.full(num_pred, source), pairs[:, 0],
                                num_pred + np.arange(self.num_gt)])
        heads = np.concatenate([np.arange(num_pred), num_pred + pairs[:, 1],
                                np.full(self.num_gt, sink)])
        capacity = csr_matrix(
            (np.ones(tails.size, dtype=np.int32), (tails, heads)),
            shape=(sink + 1, sink + 1))
        return int(maximum_flow(capacity, source, sink,
                                method='dinic').flow_value)
