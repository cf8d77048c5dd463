"""Binary maps scored by a threshold sweep (saliency): mIoU and maxF."""
from typing import Dict, Optional, Sequence

import numpy as np

from .base import ArrayLike, Stats, TaskEvaluator, register_evaluator


def count_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Number of ``values > t`` for every ``t`` in ``thresholds`` (T,)."""
    ordered = np.sort(values.ravel())
    return len(ordered) - np.searchsorted(ordered, thresholds, side='right')


@register_evaluator
class SaliencyEvaluator(TaskEvaluator):
    """Per-image Jaccard, precision and recall over a threshold sweep.

    For every image and threshold ``t`` the binary prediction is
    ``prob > t`` on the non-ignored pixels. Per image: Jaccard
    ``TP / (TP + FP + FN)`` (1 when both gt and prediction are empty),
    precision ``TP / (TP + FP)`` and recall ``TP / (TP + FN)`` (0 when the
    denominator is 0). Over the set, for every threshold, the mean Jaccard,
    the mean precision P and the mean recall R;
    ``F = (1 + b2) P R / (b2 P + R)``. Reported (percent):
    ``mIoU = max_t mean Jaccard``, ``maxF = max_t F``. Images without any
    valid gt pixel are left out of the means (they would otherwise count as
    a perfect Jaccard); a set without any raises
    ``NoValidGroundTruthError``. Non-finite probabilities raise
    ``NonFinitePredictionError``.

    Args:
        task: task name.
        thresholds: the sweep; default ``linspace(0.2, 0.9, 15)``.
        beta_sq: beta^2 of the F-measure.
        ignore_index: gt value of ignored pixels.
    """

    def __init__(self, task: str, thresholds: Optional[Sequence[float]] = None,
                 beta_sq: float = 0.3, ignore_index: int = 255) -> None:
        super().__init__(task)
        self.thresholds = (np.linspace(0.2, 0.9, 15) if thresholds is None
                           else np.asarray(thresholds, dtype=np.float64))
        self.beta_sq = beta_sq
        self.ignore_index = ignore_index

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Sweep of one image.

        Args:
            pred: probabilities, (H, W) or (1, H, W).
            gt: 0/1 with ``ignore_index``, same shape.

        Returns:
            dict(jaccard, precision, recall: float64 (T,), valid: number of
            non-ignored pixels).
        """
        prob = self._single_channel(self._prediction(pred),
                                    'prediction').astype(np.float64)
        gt = self._single_channel(gt, 'ground truth')
        self._check_same_shape(prob, gt)
        valid = gt != self.ignore_index
        positive = valid & (gt == 1)
        tp = count_above(prob[positive], self.thresholds)
        fp = count_above(prob[valid & ~positive], self.thresholds)
        fn = positive.sum() - tp
        with np.errstate(divide='ignore', invalid='ignore'):
            union = tp + fp + fn
            jaccard = np.where(union > 0, tp / union, 1.0)
            precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        return dict(jaccard=jaccard, precision=precision, recall=recall,
                    valid=int(valid.sum()))

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``mIoU`` and ``maxF`` in percent."""
        scored = [s for s in stats if s['valid'] > 0]
        if not scored:
            raise self.no_valid_pixels(
                len(stats), f'every gt pixel is {self.ignore_index}')
        stats = scored
        jaccard = np.mean([s['jaccard'] for s in stats], axis=0)
        precision = np.mean([s['precision'] for s in stats], axis=0)
        recall = np.mean([s['recall'] for s in stats], axis=0)
        denom = self.beta_sq * precision + recall
        with np.errstate(divide='ignore', invalid='ignore'):
            fscore = np.where(denom > 0, (1 + self.beta_sq) * precision *
                              recall / denom, 0.0)
        return dict(mIoU=float(jaccard.max() * 100),
                    maxF=float(fscore.max() * 100))
