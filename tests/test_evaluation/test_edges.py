"""EdgeEvaluator: the tolerance matching of odsF_approx vs brute force."""
import numpy as np
import pytest

from mmmtl.evaluation import EdgeEvaluator


def brute_force_ods(probs, gts, thresholds, max_dist):
    """Counts by comparing every pair of pixels, then the best F."""
    matched_p = np.zeros(len(thresholds))
    num_p = np.zeros(len(thresholds))
    matched_g = np.zeros(len(thresholds))
    num_g = 0
    for prob, gt in zip(probs, gts):
        radius = max_dist * np.hypot(*gt.shape)
        edges = np.argwhere(gt == 1)
        num_g += len(edges)
        for i, t in enumerate(thresholds):
            predicted = np.argwhere((prob > t) & (gt != 255))
            num_p[i] += len(predicted)
            for p in predicted:
                matched_p[i] += any(np.hypot(*(p - e)) <= radius
                                    for e in edges)
            for e in edges:
                matched_g[i] += any(np.hypot(*(p - e)) <= radius
                                    for p in predicted)
    best = 0.0
    for mp, n_p, mg in zip(matched_p, num_p, matched_g):
        precision = mp / n_p if n_p else 0.0
        recall = mg / num_g
        if precision + recall:
            best = max(best, 2 * precision * recall / (precision + recall))
    return 100 * best


def test_shifted_line_matches_within_tolerance():
    gt = np.zeros((20, 20), dtype=np.int64)
    gt[:, 10] = 1
    prob = np.zeros((20, 20))
    prob[:10, 11] = 0.8
    prob[:, 16] = 0.6
    evaluator = EdgeEvaluator('edges', max_dist=0.04)  # radius 1.13 px
    stats = evaluator.process(prob, gt)
    # t < 0.6: 30 predicted, 10 near the line; 10 of 20 gt recalled
    index = np.searchsorted(evaluator.thresholds, 0.5)
    assert stats['num_pred'][index] == 30
    assert stats['matched_pred'][index] == 10
    assert stats['matched_gt'][index] == 10
    # best at 0.6 <= t < 0.8: P = 1, R = 0.5
    out = evaluator.compute([stats])
    assert out['odsF_approx'] == pytest.approx(100 * 2 * 0.5 / 1.5)


def test_random_maps_equal_brute_force():
    rng = np.random.default_rng(3)
    probs = [rng.random((9, 11)) for _ in range(2)]
    gts = [(rng.random((9, 11)) > 0.85).astype(np.int64) for _ in range(2)]
    gts[1][0, :] = 255
    evaluator = EdgeEvaluator('edges', num_thresholds=9, max_dist=0.1)
    out = evaluator.compute([evaluator.process(p, g)
                             for p, g in zip(probs, gts)])
    expected = brute_force_ods(probs, gts, evaluator.thresholds, 0.1)
    assert out['odsF_approx'] == pytest.approx(expected)
