"""Surface normals: angular error statistics."""
from typing import Dict, Sequence

import numpy as np

from .base import (ArrayLike, Stats, TaskEvaluator, register_evaluator,
                   to_numpy)

WITHIN_DEGREES = (11.25, 22.5, 30.0)


@register_evaluator
class NormalsEvaluator(TaskEvaluator):
    """Angular error in degrees between predicted and gt normals.

    Valid pixels are those whose gt is not a zero vector (norm > ``eps``).
    Both vectors are L2-normalised (a zero prediction stays zero, i.e.
    90 degrees from anything), the error is
    ``degrees(arccos(clip(<p, g>, -1, 1)))``. Over all valid pixels of the
    set: ``mean`` (the tables' mErr), ``rmse`` (sqrt of the mean squared
    angle) and ``11.25`` / ``22.5`` / ``30`` (percent of pixels with error
    strictly below) are exact; ``median`` comes from a histogram of the
    errors with bins of ``resolution`` degrees and is the mean of the centres
    of the bins holding the two middle errors, so it is within
    ``resolution / 2`` of the exact median. Per image the histogram is stored
    sparsely: its occupied bins (at most ``180 / resolution``), about 4-6
    bytes each; a coarser ``resolution`` saves memory on large sets. A set
    without any valid gt pixel raises ``NoValidGroundTruthError``; a
    non-finite prediction raises ``NonFinitePredictionError``.

    Args:
        task: task name.
        resolution: histogram bin width in degrees (median accuracy).
        eps: gt vectors shorter than this are ignored.
    """

    def __init__(self, task: str, resolution: float = 0.01,
                 eps: float = 1e-6) -> None:
        super().__init__(task)
        if resolution <= 0:
            raise ValueError(f'task {task!r}: resolution must be > 0')
        self.resolution = resolution
        self.num_bins = int(np.ceil(180.0 / resolution))
        self.eps = eps

    def _channels_first(self, array: ArrayLike, what: str) -> np.ndarray:
        array = to_numpy(array).astype(np.float64)
        if array.ndim != 3 or array.shape[0] != 3:
            raise ValueError(f'task {self.task!r}: expected the {what} as '
                             f'(3, H, W), got shape {array.shape}')
        return array

    def angular_errors(self, pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
        """Errors in degrees (N,) of the valid pixels of (3, H, W) maps."""
        pred = self._channels_first(self._prediction(pred), 'prediction')
        gt = self._channels_first(gt, 'ground truth')
        self._check_same_shape(pred, gt)
        pred = pred.reshape(3, -1)
        gt = gt.reshape(3, -1)
        gt_norm = np.linalg.norm(gt, axis=0)
        valid = gt_norm > self.eps
        pred, gt, gt_norm = pred[:, valid], gt[:, valid], gt_norm[valid]
        pred_norm = np.linalg.norm(pred, axis=0)
        pred = pred / np.maximum(pred_norm, self.eps)
        cosine = np.clip((pred * gt).sum(0) / gt_norm, -1.0, 1.0)
        return np.degrees(np.arccos(cosine))

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Error statistics of one image (pred and gt (3, H, W)).

        Returns:
            dict(count, sum, sum_sq, within: int64 (3,), bins and
            bin_counts: the occupied histogram bins and their counts, in the
            smallest unsigned integer types that hold them).
        """
        errors = self.angular_errors(pred, gt)
        index = np.minimum((errors / self.resolution).astype(np.int64),
                           self.num_bins - 1)
        hist = np.bincount(index, minlength=self.num_bins)
        bins = np.flatnonzero(hist)
        bin_counts = hist[bins]
        return dict(count=errors.size, sum=float(errors.sum()),
                    sum_sq=float(np.square(errors).sum()),
                    within=np.array([(errors < d).sum()
                                     for d in WITHIN_DEGREES]),
                    bins=bins.astype(np.min_scalar_type(self.num_bins)),
                    bin_counts=bin_counts.astype(
                        np.min_scalar_type(errors.size)))

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``mean``, ``median``, ``rmse`` (degrees), ``11.25``/``22.5``/``30``
        (percent)."""
        count = sum(s['count'] for s in stats)
        names = ('mean', 'median', 'rmse') + tuple(
            f'{d:g}' for d in WITHIN_DEGREES)
        if count == 0:
            raise self.no_valid_pixels(
                len(stats), 'every gt normal is a zero vector')
        within = sum(s['within'] for s in stats) / count * 100
        hist = np.bincount(
            np.concatenate([s['bins'] for s in stats]).astype(np.int64),
            weights=np.concatenate([s['bin_counts'] for s in stats]
                                   ).astype(np.float64),
            minlength=self.num_bins)
        cumulative = np.cumsum(hist)
        middle = np.searchsorted(cumulative, [(count - 1) // 2 + 1,
                                              count // 2 + 1])
        median = float((middle.mean() + 0.5) * self.resolution)
        values = [sum(s['sum'] for s in stats) / count, median,
                  np.sqrt(sum(s['sum_sq'] for s in stats) / count),
                  *within]
        return {name: float(v) for name, v in zip(names, values)}
