"""SaliencyEvaluator: threshold-sweep mIoU and maxF."""
import numpy as np
import pytest

from mmmtl.evaluation import SaliencyEvaluator


def loop_sweep(probs, gts, thresholds, beta_sq=0.3):
    """Per-image Jaccard/precision/recall by explicit pixel loops."""
    jac, prec, rec = [], [], []
    for prob, gt in zip(probs, gts):
        row_j, row_p, row_r = [], [], []
        for t in thresholds:
            tp = fp = fn = 0
            for p, g in zip(prob.ravel(), gt.ravel()):
                if g == 255:
                    continue
                tp += p > t and g == 1
                fp += p > t and g == 0
                fn += p <= t and g == 1
            row_j.append(tp / (tp + fp + fn) if tp + fp + fn else 1.0)
            row_p.append(tp / (tp + fp) if tp + fp else 0.0)
            row_r.append(tp / (tp + fn) if tp + fn else 0.0)
        jac.append(row_j)
        prec.append(row_p)
        rec.append(row_r)
    jac, prec, rec = (np.mean(a, axis=0) for a in (jac, prec, rec))
    fscore = [(1 + beta_sq) * p * r / (beta_sq * p + r) if p + r else 0.0
              for p, r in zip(prec, rec)]
    return 100 * max(jac), 100 * max(fscore)


def test_hand_computed_sweep():
    evaluator = SaliencyEvaluator('saliency')
    first = evaluator.process(np.array([[0.1, 0.5], [0.95, 0.3]]),
                              np.array([[0, 1], [1, 255]]))
    empty = evaluator.process(np.full((2, 2), 0.1), np.zeros((2, 2)))
    assert evaluator.compute([first]) == dict(mIoU=100.0, maxF=100.0)
    both = evaluator.compute([first, empty])
    assert both['mIoU'] == pytest.approx(100.0)
    # t=0.2: mean P = mean R = 0.5 -> F = 1.3 * 0.25 / (0.3 * 0.5 + 0.5)
    assert both['maxF'] == pytest.approx(50.0)
    np.testing.assert_allclose(first['jaccard'][-1], 0.5)


def test_random_maps_equal_loop_reference():
    rng = np.random.default_rng(1)
    probs = [rng.random((5, 6)) for _ in range(4)]
    gts = [(rng.random((5, 6)) > 0.6).astype(np.int64) for _ in range(4)]
    gts[0][0, :3] = 255
    evaluator = SaliencyEvaluator('saliency')
    out = evaluator.compute([evaluator.process(p[None], g[None])
                             for p, g in zip(probs, gts)])
    miou, maxf = loop_sweep(probs, gts, np.linspace(0.2, 0.9, 15))
    assert out['mIoU'] == pytest.approx(miou)
    assert out['maxF'] == pytest.approx(maxf)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="'saliency'"):
        SaliencyEvaluator('saliency').process(np.zeros((2, 3)),
                                              np.zeros((3, 2)))
