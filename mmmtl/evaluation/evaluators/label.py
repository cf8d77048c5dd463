"""Label tasks (semseg, human parts): confusion-matrix IoU."""
from typing import Dict, Optional, Sequence

import numpy as np

from .base import ArrayLike, Stats, TaskEvaluator, register_evaluator


@register_evaluator
class LabelEvaluator(TaskEvaluator):
    """Dataset-level IoU of a label map.

    Per image the confusion matrix of the non-ignored pixels is reduced to
    its diagonal and marginals (all that IoU and accuracy need: 3K numbers);
    summing them over images gives exactly the dataset-level confusion
    matrix's. Then ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``; a class with
    ``TP + FP + FN = 0`` (absent from both gt and prediction in the whole
    set) has IoU NaN and is left out of the mean:
    ``mIoU = nanmean_c IoU_c * 100``. ``pixAcc = sum_c TP_c / #valid * 100``.
    A set without any valid gt pixel raises ``NoValidGroundTruthError``; a
    float prediction with NaN or inf raises ``NonFinitePredictionError``.

    Args:
        task: task name.
        num_classes: number of classes K; gt values must lie in [0, K) or be
            ``ignore_index``, predictions in [0, K).
        ignore_index: gt value of ignored pixels.
        skip_single_valued: skip images whose gt holds one value that is 0 or
            ``ignore_index`` (the human-parts protocol: images without a
            person with parts).
        class_names: names used for the per-class keys.
        per_class: also return ``IoU.<class name>`` for every class.
    """

    requires_num_classes = True

    def __init__(self, task: str, num_classes: int, ignore_index: int = 255,
                 skip_single_valued: bool = False,
                 class_names: Optional[Sequence[str]] = None,
                 per_class: bool = False) -> None:
        super().__init__(task)
        if num_classes < 1:
            raise ValueError(f'task {task!r}: num_classes must be >= 1, got '
                             f'{num_classes}')
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f'task {task!r}: {len(class_names)} class names '
                             f'for {num_classes} classes')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.skip_single_valued = skip_single_valued
        self.class_names = (tuple(class_names) if class_names is not None
                            else tuple(str(i) for i in range(num_classes)))
        self.per_class = per_class

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Class areas of one image.

        Args:
            pred: class ids, (H, W) or (1, H, W).
            gt: class ids with ``ignore_index``, same shape.

        Returns:
            dict(intersect, pred_area, gt_area: int64 (K,), skipped: bool).
        """
        pred = self._single_channel(self._prediction(pred),
                                    'prediction').astype(np.int64)
        gt = self._single_channel(gt, 'ground truth').astype(np.int64)
        self._check_same_shape(pred, gt)
        k = self.num_classes
        zeros = np.zeros(k, dtype=np.int64)
        if self.skip_single_valued:
            values = np.unique(gt)
            if len(values) == 1 and values[0] in (0, self.ignore_index):
                return dict(intersect=zeros, pred_area=zeros, gt_area=zeros,
                            skipped=True)
        valid = gt != self.ignore_index
        gt, pred = gt[valid], pred[valid]
        self._check_range(gt, 'ground-truth label')
        self._check_range(pred, 'predicted label')
        confusion = np.bincount(gt * k + pred, minlength=k * k).reshape(k, k)
        return dict(intersect=np.diag(confusion).copy(),
                    pred_area=confusion.sum(0), gt_area=confusion.sum(1),
                    skipped=False)

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """``mIoU`` and ``pixAcc`` in percent (and ``IoU.<class>``)."""
        k = self.num_classes
        intersect = sum((s['intersect'] for s in stats), np.zeros(k))
        pred_area = sum((s['pred_area'] for s in stats), np.zeros(k))
        gt_area = sum((s['gt_area'] for s in stats), np.zeros(k))
        total = gt_area.sum()
        if total == 0:
            raise self.no_valid_pixels(len(stats), self._ignored_reason(stats))
        union = pred_area + gt_area - intersect
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = np.where(union > 0, intersect / union, np.nan)
        present = ~np.isnan(iou)
        results = dict(mIoU=float(iou[present].mean() * 100),
                       pixAcc=float(intersect.sum() / total * 100))
        if self.per_class:
            for name, value in zip(self.class_names, iou):
                results[f'IoU.{name}'] = float(value * 100)
        return results

    def _ignored_reason(self, stats: Sequence[Stats]) -> str:
        """Why no pixel counted, for :meth:`no_valid_pixels`."""
        skipped = sum(bool(s['skipped']) for s in stats)
        ignored = f'every gt pixel is the ignore index {self.ignore_index}'
        if not skipped:
            return ignored
        reason = (f'{skipped} image(s) skipped because their gt holds a '
                  f'single value, 0 or {self.ignore_index} (e.g. no person '
                  'with parts)')
        return reason if skipped == len(stats) else \
            f'{reason}; in the others {ignored}'

    def _check_range(self, values: np.ndarray, what: str) -> None:
        bad = (values < 0) | (values >= self.num_classes)
        if bad.any():
            found = np.unique(values[bad])[:10].tolist()
            raise ValueError(f'task {self.task!r}: {what} values {found} out '
                             f'of range for {self.num_classes} classes '
                             f'(ignore index {self.ignore_index})')
