"""SaliencyEvaluator: threshold-sweep mIoU, maxF and maxFbeta."""
import numpy as np
import pytest

from mmmtl.evaluation import SaliencyEvaluator


def loop_sweep(probs, gts, thresholds, beta_sq=0.3):
    """mIoU, maxF, maxFbeta by explicit pixel loops."""
    jac, prec, rec, pooled = [], [], [], np.zeros((len(thresholds), 3))
    for prob, gt in zip(probs, gts):
        row_j, row_p, row_r = [], [], []
        for i, t in enumerate(thresholds):
            tp = fp = fn = 0
            for p, g in zip(prob.ravel(), gt.ravel()):
                if g == 255:
                    continue
                tp += p > t and g == 1
                fp += p > t and g == 0
                fn += p <= t and g == 1
            pooled[i] += tp, fp, fn
            row_j.append(tp / (tp + fp + fn) if tp + fp + fn else 1.0)
            row_p.append(tp / (tp + fp) if tp + fp else 0.0)
            row_r.append(tp / (tp + fn) if tp + fn else 0.0)
        jac.append(row_j)
        prec.append(row_p)
        rec.append(row_r)
    jac, prec, rec = (np.mean(a, axis=0) for a in (jac, prec, rec))
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in zip(prec, rec)]
    fbeta = []
    for tp, fp, fn in pooled:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        fbeta.append((1 + beta_sq) * p * r / (beta_sq * p + r) if p + r
                     else 0.0)
    return 100 * max(jac), 100 * max(f1), 100 * max(fbeta)


def test_maxf_is_f1_of_mean_precision_and_recall_by_hand():
    evaluator = SaliencyEvaluator('saliency', thresholds=(0.3, 0.6))
    stats = [evaluator.process(np.array([[0.9, 0.5], [0.4, 0.1]]),
                               np.array([[1, 1], [0, 0]])),
             evaluator.process(np.array([[0.7, 0.2], [0.35, 0.8]]),
                               np.array([[0, 1], [1, 1]]))]
    # image 1: t=.3 TP 2 FP 1 FN 0 (P 2/3, R 1); t=.6 TP 1 FP 0 FN 1
    # (P 1, R 1/2). image 2: t=.3 TP 2 FP 1 FN 1 (P 2/3, R 2/3); t=.6
    # TP 1 FP 1 FN 2 (P 1/2, R 1/3).
    # t=.3: P 2/3, R 5/6 -> F1 20/27;  t=.6: P 3/4, R 5/12 -> F1 15/28
    # pooled: t=.3 TP 4 FP 2 FN 1 (P 2/3, R 4/5) -> F(b2=.3) 52/75;
    # t=.6 TP 2 FP 1 FN 3 (P 2/3, R 2/5) -> 26/45
    # Jaccard: t=.3 (2/3 + 1/2) / 2 = 7/12; t=.6 (1/2 + 1/4) / 2 = 3/8
    out = evaluator.compute(stats)
    assert out['maxF'] == pytest.approx(100 * 20 / 27)
    assert out['maxFbeta'] == pytest.approx(100 * 52 / 75)
    assert out['mIoU'] == pytest.approx(100 * 7 / 12)


def test_empty_prediction_or_gt_has_zero_precision_and_recall():
    evaluator = SaliencyEvaluator('saliency', thresholds=(0.5, ))
    no_prediction = evaluator.process(np.zeros((2, 2)), np.eye(2))
    no_gt = evaluator.process(np.full((2, 2), 0.9), np.zeros((2, 2)))
    assert (no_prediction['precision'], no_prediction['recall']) == (0, 0)
    assert (no_gt['precision'], no_gt['recall']) == (0, 0)
    assert evaluator.compute([no_prediction, no_gt])['maxF'] == 0.0


def test_hand_computed_sweep():
    evaluator = SaliencyEvaluator('saliency')
    first = evaluator.process(np.array([[0.1, 0.5], [0.95, 0.3]]),
                              np.array([[0, 1], [1, 255]]))
    empty = evaluator.process(np.full((2, 2), 0.1), np.zeros((2, 2)))
    assert evaluator.compute([first]) == dict(mIoU=100.0, maxF=100.0,
                                              maxFbeta=100.0)
    both = evaluator.compute([first, empty])
    assert both['mIoU'] == pytest.approx(100.0)
    # t=0.2: mean P = mean R = 0.5 -> F1 = 0.5
    assert both['maxF'] == pytest.approx(50.0)
    # pooled: TP 2, FP 0, FN 0 -> P = R = 1
    assert both['maxFbeta'] == pytest.approx(100.0)
    np.testing.assert_allclose(first['jaccard'][-1], 0.5)


def test_random_maps_equal_loop_reference():
    rng = np.random.default_rng(1)
    probs = [rng.random((5, 6)) for _ in range(4)]
    gts = [(rng.random((5, 6)) > 0.6).astype(np.int64) for _ in range(4)]
    gts[0][0, :3] = 255
    evaluator = SaliencyEvaluator('saliency')
    out = evaluator.compute([evaluator.process(p[None], g[None])
                             for p, g in zip(probs, gts)])
    miou, maxf, maxfbeta = loop_sweep(probs, gts, np.linspace(0.2, 0.9, 15))
    assert out['mIoU'] == pytest.approx(miou)
    assert out['maxF'] == pytest.approx(maxf)
    assert out['maxFbeta'] == pytest.approx(maxfbeta)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="'saliency'"):
        SaliencyEvaluator('saliency').process(np.zeros((2, 3)),
                                              np.zeros((3, 2)))
