"""Edges: the ODS F-measure of the BSDS / SEISM benchmarks (``odsF``)."""
from typing import Dict, Sequence

import numpy as np

from ..edge_matching import EdgeMatcher
from ..thinning import thin
from .base import ArrayLike, Stats, TaskEvaluator, register_evaluator


def bsds_thresholds(num: int) -> np.ndarray:
    """``linspace(1 / (num + 1), num / (num + 1), num)``, the thresholds of
    the BSDS / SEISM benchmarks (99: 0.01, 0.02, ..., 0.99)."""
    if num < 1:
        raise ValueError(f'num_thresholds must be >= 1, got {num}')
    return np.linspace(1 / (num + 1), num / (num + 1), num)


@register_evaluator
class EdgeEvaluator(TaskEvaluator):
    """ODS F-measure of edge probability maps, the BSDS protocol.

    Per image: the gt edge pixels (gt 1, thinned as SEISM does; a one-pixel
    gt is unchanged) and the radius ``max_dist x`` the image diagonal. For
    every threshold ``t``: the prediction ``prob >= t``, thinned to
    one-pixel lines, without its pixels on ignored gt; its pixels and the gt
    edge pixels are matched one-to-one within the radius
    (:class:`~mmmtl.evaluation.edge_matching.EdgeMatcher`). The matched,
    predicted and gt pixel counts are summed over the set per threshold
    (optimal dataset scale); ``P_t = matched / predicted`` (0 without
    prediction), ``R_t = matched / gt``,
    ``odsF = 100 * max_t 2 P_t R_t / (P_t + R_t)`` (0 where both are 0).
    A set without any valid gt pixel raises ``NoValidGroundTruthError``;
    non-finite probabilities raise ``NonFinitePredictionError``.

    Args:
        task: task name.
        num_thresholds: the sweep :func:`bsds_thresholds`; SEISM uses 99,
            the default 49 (0.02, 0.04, ..., 0.98, a subset of SEISM's) halves
            the time.
        max_dist: matching tolerance as a fraction of the image diagonal.
        ignore_index: gt value of ignored pixels (neither gt edges nor
            counted predictions).
    """

    def __init__(self, task: str, num_thresholds: int = 49,
                 max_dist: float = 0.0075, ignore_index: int = 255) -> None:
        super().__init__(task)
        self.thresholds = bsds_thresholds(num_thresholds)
        self.max_dist = max_dist
        self.ignore_index = ignore_index

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Matching counts of one image per threshold.

        Args:
            pred: edge probabilities, (H, W) or (1, H, W).
            gt: 0/1 edge map with ``ignore_index``, same shape.

        Returns:
            dict(matched, num_pred: int64 (T,), num_gt, num_valid: number of
            non-ignored pixels).
        """
        prob = self._single_channel(self._prediction(pred), 'prediction')
        gt = self._single_channel(gt, 'ground truth')
        self._check_same_shape(prob, gt)
        valid = gt != self.ignore_index
        matcher = EdgeMatcher(thin(valid & (gt == 1)),
                              self.max_dist * float(np.hypot(*gt.shape)))
        matched = np.zeros(len(self.thresholds), dtype=np.int64)
        num_pred = np.zeros(len(self.thresholds), dtype=np.int64)
        for i, threshold in enumerate(self.thresholds):
            edges = thin(prob >= threshold) & valid
            num_pred[i] = edges.sum()
            matched[i] = matcher.count_matches(edges)
        return dict(matched=matched, num_pred=num_pred,
                    num_gt=matcher.num_gt, num_valid=int(valid.sum()))

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``odsF`` in percent."""
        if not sum(s['num_valid'] for s in stats):
            raise self.no_valid_pixels(
                len(stats), f'every gt pixel is {self.ignore_index}')
        matched = sum(s['matched'] for s in stats)
        num_pred = sum(s['num_pred'] for s in stats)
        num_gt = sum(s['num_gt'] for s in stats)
        with np.errstate(divide='ignore', invalid='ignore'):
            precision = np.where(num_pred > 0, matched / num_pred, 0.0)
            recall = matched / max(num_gt, 1)
            fscore = np.where(precision + recall > 0, 2 * precision * recall /
                              (precision + recall), 0.0)
        return dict(odsF=float(fscore.max() * 100))
