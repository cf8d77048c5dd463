"""Scalar maps (depth): standard monocular-depth error metrics."""
from typing import Dict, Sequence

import numpy as np

from .base import ArrayLike, Stats, TaskEvaluator, register_evaluator

DELTA_POWERS = (1, 2, 3)


@register_evaluator
class DepthEvaluator(TaskEvaluator):
    """Depth errors over valid pixels (gt > 0 and finite).

    All metrics are dataset-level: sums over every valid pixel of the set
    divided by the number of valid pixels (the references compute RMSE this
    way, not as a mean of per-image RMSEs):

    * ``rmse = sqrt(mean((p - g)^2))``
    * ``absRel = mean(|p - g| / g)``
    * ``log10 = mean(|log10 p' - log10 g|)``
    * ``delta<k> = % of pixels with max(p'/g, g/p') < 1.25^k``, k = 1, 2, 3

    where ``p' = max(p, min_pred)`` keeps logarithms and ratios finite;
    ``rmse`` and ``absRel`` use the raw prediction. A set without any
    valid gt pixel raises ``NoValidGroundTruthError``; a non-finite
    prediction raises ``NonFinitePredictionError``.

    Args:
        task: task name.
        min_pred: lower clamp of the prediction for ``log10`` and ``delta``.
    """

    def __init__(self, task: str, min_pred: float = 1e-9) -> None:
        super().__init__(task)
        self.min_pred = min_pred

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Error sums of one image (pred, gt (H, W) or (1, H, W)).

        Returns:
            dict(count, sq_err, abs_rel, log10: floats, delta: int64 (3,)).
        """
        pred = self._single_channel(self._prediction(pred),
                                    'prediction').astype(np.float64)
        gt = self._single_channel(gt, 'ground truth').astype(np.float64)
        self._check_same_shape(pred, gt)
        valid = np.isfinite(gt) & (gt > 0)
        pred, gt = pred[valid], gt[valid]
        clamped = np.maximum(pred, self.min_pred)
        ratio = np.maximum(clamped / gt, gt / clamped)
        return dict(
            count=int(gt.size),
            sq_err=float(np.square(pred - gt).sum()),
            abs_rel=float((np.abs(pred - gt) / gt).sum()),
            log10=float(np.abs(np.log10(clamped) - np.log10(gt)).sum()),
            delta=np.array([(ratio < 1.25**k).sum() for k in DELTA_POWERS]))

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``rmse``, ``absRel``, ``log10`` and ``delta1/2/3`` (percent)."""
        count = sum(s['count'] for s in stats)
        names = ('rmse', 'absRel', 'log10') + tuple(
            f'delta{k}' for k in DELTA_POWERS)
        if count == 0:
            raise self.no_valid_pixels(
                len(stats), 'every gt depth is 0, negative or not finite')
        delta = sum(s['delta'] for s in stats) / count * 100
        values = [np.sqrt(sum(s['sq_err'] for s in stats) / count),
                  sum(s['abs_rel'] for s in stats) / count,
                  sum(s['log10'] for s in stats) / count, *delta]
        return {name: float(v) for name, v in zip(names, values)}
