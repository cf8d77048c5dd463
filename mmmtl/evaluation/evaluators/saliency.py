"""Binary maps scored by a threshold sweep (saliency): mIoU, maxF and
maxFbeta."""
from typing import Dict, Optional, Sequence

import numpy as np

from .base import ArrayLike, Stats, TaskEvaluator, register_evaluator


def count_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Number of ``values > t`` for every ``t`` in ``thresholds`` (T,)."""
    ordered = np.sort(values.ravel())
    return len(ordered) - np.searchsorted(ordered, thresholds, side='right')


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, 0 where ``den`` is 0 (same shapes)."""
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(den > 0, num / den, 0.0)


def f_measure(precision: np.ndarray, recall: np.ndarray,
              beta_sq: float) -> np.ndarray:
    """``(1 + beta_sq) P R / (beta_sq P + R)`` elementwise, 0 where the
    denominator is 0; P and R of any (same) shape."""
    return ratio((1 + beta_sq) * precision * recall,
                 beta_sq * precision + recall)


@register_evaluator
class SaliencyEvaluator(TaskEvaluator):
    """Per-image Jaccard, precision and recall over a threshold sweep.

    For every image and threshold ``t`` the binary prediction is
    ``prob > t`` on the non-ignored pixels. Per image: Jaccard
    ``TP / (TP + FP + FN)`` (1 when both gt and prediction are empty),
    precision ``TP / (TP + FP)`` (0 for an empty prediction) and recall
    ``TP / (TP + FN)`` (0 for an empty gt), as the ASTMT / MTI-Net / MTLoRA
    evaluation. Reported (percent):

    * ``mIoU = max_t`` mean Jaccard over images;
    * ``maxF = max_t 2 P_t R_t / (P_t + R_t)`` (F1, 0 when ``P_t = R_t =
      0``) of the mean precision ``P_t`` and mean recall ``R_t`` over
      images, the maxF of the multi-task dense prediction literature;
    * ``maxFbeta = max_t (1 + b2) P_t R_t / (b2 P_t + R_t)`` with
      ``b2 = beta_sq`` (0.3, the salient object detection F-measure) on the
      precision and recall of the TP, FP, FN counts summed over the set.

    Images without any valid gt pixel are left out (they would otherwise
    count as a perfect Jaccard); a set without any raises
    ``NoValidGroundTruthError``. Non-finite probabilities raise
    ``NonFinitePredictionError``.

    Args:
        task: task name.
        thresholds: the sweep; default ``linspace(0.2, 0.9, 15)``.
        beta_sq: beta^2 of ``maxFbeta``.
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
            dict(jaccard, precision, recall: float64 (T,), tp, fp, fn:
            int64 (T,), valid: number of non-ignored pixels).
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
        return dict(jaccard=jaccard, precision=ratio(tp, tp + fp),
                    recall=ratio(tp, tp + fn), tp=tp, fp=fp, fn=fn,
                    valid=int(valid.sum()))

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``mIoU``, ``maxF`` and ``maxFbeta`` in percent."""
        scored = [s for s in stats if s['valid'] > 0]
        if not scored:
            raise self.no_valid_pixels(
                len(stats), f'every gt pixel is {self.ignore_index}')
        jaccard = np.mean([s['jaccard'] for s in scored], axis=0)
        precision = np.mean([s['precision'] for s in scored], axis=0)
        recall = np.mean([s['recall'] for s in scored], axis=0)
        tp, fp, fn = (sum(s[key] for s in scored) for key in ('tp', 'fp',
                                                              'fn'))
        pooled = f_measure(ratio(tp, tp + fp), ratio(tp, tp + fn),
                           self.beta_sq)
        return dict(
            mIoU=float(jaccard.max() * 100),
            maxF=float(f_measure(precision, recall, 1.0).max() * 100),
            maxFbeta=float(pooled.max() * 100))
