"""LabelEvaluator: confusion-matrix IoU, ignore handling, parts skipping."""
import numpy as np
import pytest
import torch

from mmmtl.evaluation import LabelEvaluator


def loop_iou(preds, gts, num_classes, ignore=255):
    """Dataset-level confusion matrix by explicit loops, then IoU."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for pred, gt in zip(preds, gts):
        for p, g in zip(pred.ravel(), gt.ravel()):
            if g != ignore:
                confusion[g, p] += 1
    ious = []
    for c in range(num_classes):
        tp = confusion[c, c]
        union = confusion[c, :].sum() + confusion[:, c].sum() - tp
        if union > 0:
            ious.append(tp / union)
    acc = np.trace(confusion) / confusion.sum()
    return 100 * np.mean(ious), 100 * acc


def test_hand_computed_iou_and_ignore():
    gt = np.array([[0, 0, 1], [1, 2, 255]], dtype=np.uint8)
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    evaluator = LabelEvaluator('semseg', num_classes=3)
    out = evaluator.compute([evaluator.process(pred, gt)])
    assert out['mIoU'] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3 * 100)
    assert out['pixAcc'] == pytest.approx(80.0)


def test_absent_classes_are_left_out_of_the_mean():
    gt = np.array([[0, 0, 1], [1, 2, 255]], dtype=np.uint8)
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    evaluator = LabelEvaluator('semseg', num_classes=5, per_class=True,
                               class_names=list('abcde'))
    out = evaluator.compute([evaluator.process(pred, gt)])
    assert out['mIoU'] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3 * 100)
    assert np.isnan(out['IoU.d']) and out['IoU.b'] == pytest.approx(200 / 3)


def test_many_images_equal_loop_reference():
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 4, (6, 7)) for _ in range(5)]
    for gt in gts:
        gt[rng.random(gt.shape) < 0.2] = 255
    preds = [rng.integers(0, 4, (6, 7)) for _ in range(5)]
    evaluator = LabelEvaluator('semseg', num_classes=4)
    stats = [evaluator.process(torch.from_numpy(p)[None],
                               torch.from_numpy(g)[None])
             for p, g in zip(preds, gts)]
    miou, acc = loop_iou(preds, gts, 4)
    out = evaluator.compute(stats)
    assert out['mIoU'] == pytest.approx(miou)
    assert out['pixAcc'] == pytest.approx(acc)


def test_human_parts_single_valued_images_are_skipped():
    evaluator = LabelEvaluator('human_parts', num_classes=7,
                               skip_single_valued=True)
    gt = np.array([[0, 1], [2, 2]])
    pred = np.array([[0, 1], [2, 3]])
    kept = evaluator.process(pred, gt)
    background = evaluator.process(np.full((2, 2), 3), np.zeros((2, 2)))
    ignored = evaluator.process(np.full((2, 2), 3), np.full((2, 2), 255))
    single_part = evaluator.process(np.full((2, 2), 3), np.full((2, 2), 1))
    assert background['skipped'] and ignored['skipped']
    assert not single_part['skipped']
    assert evaluator.compute([kept, background, ignored]) == \
        evaluator.compute([kept])
    assert evaluator.compute([kept, single_part])['mIoU'] < \
        evaluator.compute([kept])['mIoU']


def test_out_of_range_values_raise():
    evaluator = LabelEvaluator('semseg', num_classes=3)
    with pytest.raises(ValueError, match="'semseg'.*ground-truth.*\\[7\\]"):
        evaluator.process(np.zeros((2, 2)), np.full((2, 2), 7))
    with pytest.raises(ValueError, match='predicted label values \\[3\\]'):
        evaluator.process(np.full((2, 2), 3), np.zeros((2, 2)))
