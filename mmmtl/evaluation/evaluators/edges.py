"""Edges: a Python approximation of the ODS F-measure (``odsF_approx``)."""
from typing import Dict, Sequence

import numpy as np
from scipy import ndimage

from .base import ArrayLike, Stats, TaskEvaluator, register_evaluator
from .saliency import count_above


def disk(radius: float) -> np.ndarray:
    """Boolean disk footprint of the offsets within ``radius`` pixels."""
    r = int(np.floor(radius))
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= radius * radius


@register_evaluator
class EdgeEvaluator(TaskEvaluator):
    """Approximate ODS F-measure of edge probability maps.

    The references report odsF from the MATLAB SEISM toolkit, which thins
    predictions and matches predicted and gt edge pixels one-to-one
    (bipartite matching) within a tolerance of ``max_dist`` times the image
    diagonal. This evaluator approximates it without one-to-one matching:
    for each threshold ``t``, a predicted pixel (``prob > t``) is correct
    when a gt edge pixel lies within the tolerance (Euclidean distance
    transform), and a gt edge pixel is recalled when a predicted pixel lies
    within it (maximum filter with a disk of the same radius). Counts are
    summed over the set per threshold (dataset-level, "optimal dataset
    scale"); ``odsF_approx = max_t 2 P R / (P + R) * 100``. No thinning is
    applied, so thick predictions score lower than in SEISM. The number is
    an approximation and is left out of Δm by default. A set without any
    valid gt pixel raises ``NoValidGroundTruthError``; non-finite
    probabilities raise ``NonFinitePredictionError``.

    Args:
        task: task name.
        num_thresholds: thresholds ``linspace(0.01, 0.99, num_thresholds)``.
        max_dist: matching tolerance as a fraction of the image diagonal.
        ignore_index: gt value of ignored pixels (neither edges nor
            counted predictions).
    """

    def __init__(self, task: str, num_thresholds: int = 99,
                 max_dist: float = 0.0075, ignore_index: int = 255) -> None:
        super().__init__(task)
        self.thresholds = np.linspace(0.01, 0.99, num_thresholds)
        self.max_dist = max_dist
        self.ignore_index = ignore_index

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Matching counts of one image per threshold.

        Args:
            pred: edge probabilities, (H, W) or (1, H, W).
            gt: 0/1 edge map with ``ignore_index``, same shape.

        Returns:
            dict(matched_pred, num_pred, matched_gt: int64 (T,), num_gt,
            num_valid: number of non-ignored pixels).
        """
        prob = self._single_channel(self._prediction(pred),
                                    'prediction').astype(np.float64)
        gt = self._single_channel(gt, 'ground truth')
        self._check_same_shape(prob, gt)
        valid = gt != self.ignore_index
        edges = valid & (gt == 1)
        prob = np.where(valid, prob, 0.0)
        radius = self.max_dist * float(np.hypot(*gt.shape))
        if edges.any():
            near_gt = ndimage.distance_transform_edt(~edges) <= radius
        else:
            near_gt = np.zeros_like(edges)
        nearby_prob = ndimage.maximum_filter(prob, footprint=disk(radius),
                                             mode='constant', cval=0.0)
        return dict(
            matched_pred=count_above(prob[valid & near_gt], self.thresholds),
            num_pred=count_above(prob[valid], self.thresholds),
            matched_gt=count_above(nearby_prob[edges], self.thresholds),
            num_gt=int(edges.sum()), num_valid=int(valid.sum()))

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``odsF_approx`` in percent."""
        if not sum(s['num_valid'] for s in stats):
            raise self.no_valid_pixels(
                len(stats), f'every gt pixel is {self.ignore_index}')
        matched_pred = sum(s['matched_pred'] for s in stats)
        num_pred = sum(s['num_pred'] for s in stats)
        matched_gt = sum(s['matched_gt'] for s in stats)
        num_gt = sum(s['num_gt'] for s in stats)
        with np.errstate(divide='ignore', invalid='ignore'):
            precision = np.where(num_pred > 0, matched_pred / num_pred, 0.0)
            recall = (matched_gt / num_gt if num_gt > 0
                      else np.zeros_like(precision))
            fscore = np.where(precision + recall > 0, 2 * precision * recall /
                              (precision + recall), 0.0)
        return dict(odsF_approx=float(fscore.max() * 100))
