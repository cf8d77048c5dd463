"""EdgeEvaluator: the BSDS ODS F-measure on hand-worked maps."""
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from skimage.morphology import thin

from mmmtl.evaluation import EdgeEvaluator
from mmmtl.evaluation.evaluators.edges import bsds_thresholds


def reference_ods(probs, gts, thresholds, max_dist):
    """skimage thinning, Hopcroft-Karp on every pixel pair, pooled F."""
    matched = np.zeros(len(thresholds))
    predicted = np.zeros(len(thresholds))
    num_gt = 0
    for prob, gt in zip(probs, gts):
        radius = max_dist * np.hypot(*gt.shape)
        edges = np.argwhere(thin(gt == 1))
        num_gt += len(edges)
        for i, t in enumerate(thresholds):
            pred = np.argwhere(thin(prob >= t) & (gt != 255))
            predicted[i] += len(pred)
            if not len(pred) or not len(edges):
                continue
            dist = np.hypot(*(pred[:, None] - edges[None]).transpose(2, 0, 1))
            pairs = maximum_bipartite_matching(csr_matrix(dist <= radius),
                                               perm_type='column')
            matched[i] += (pairs >= 0).sum()
    precision = np.divide(matched, predicted, out=np.zeros_like(matched),
                          where=predicted > 0)
    recall = matched / num_gt
    total = precision + recall
    return 100 * np.max(np.divide(2 * precision * recall, total,
                                  out=np.zeros_like(total), where=total > 0))


def test_thresholds_are_seism_ones():
    np.testing.assert_allclose(bsds_thresholds(99), np.arange(1, 100) / 100)
    np.testing.assert_allclose(bsds_thresholds(3), [0.25, 0.5, 0.75])
    assert set(np.round(bsds_thresholds(49), 6)) <= set(
        np.round(bsds_thresholds(99), 6))


def test_shift_within_tolerance_counts_beyond_does_not():
    gt = np.zeros((20, 20), dtype=np.int64)
    gt[:, 10] = 1
    prob = np.zeros((20, 20))
    prob[:10, 11] = 0.8  # one pixel off: matched
    prob[10:, 13] = 0.8  # three pixels off: not matched
    evaluator = EdgeEvaluator('edges', num_thresholds=1, max_dist=0.04)
    stats = evaluator.process(prob, gt)  # radius 0.04 * 28.3 = 1.13 px
    assert stats['num_gt'] == 20
    assert stats['num_pred'].tolist() == [20]
    assert stats['matched'].tolist() == [10]
    # P = R = 1/2
    assert evaluator.compute([stats])['odsF'] == pytest.approx(50.0)


def test_two_predictions_near_one_gt_pixel_count_once():
    gt = np.zeros((11, 11), dtype=np.int64)
    gt[5, 5] = 1
    prob = np.zeros((11, 11))
    prob[5, 4] = prob[5, 6] = 0.9
    evaluator = EdgeEvaluator('edges', num_thresholds=1, max_dist=0.08)
    stats = evaluator.process(prob, gt)  # radius 1.24 px
    assert stats['matched'].tolist() == [1]
    # P = 1/2, R = 1: F = 2/3 (without one-to-one matching it was 1)
    assert evaluator.compute([stats])['odsF'] == pytest.approx(200 / 3)


def test_two_pixel_thick_prediction_is_thinned():
    gt = np.zeros((6, 8), dtype=np.int64)
    gt[2, 1:7] = 1
    prob = np.zeros((6, 8))
    prob[2:4, 1:7] = 0.8
    evaluator = EdgeEvaluator('edges', num_thresholds=1, max_dist=0.12)
    stats = evaluator.process(prob, gt)  # radius 1.2 px
    # thinned to row 3, columns 1-5 (see test_thinning), each one pixel
    # below a gt pixel: P = 5/5, R = 5/6 (unthinned: P = 6/12, R = 1)
    assert stats['num_pred'].tolist() == [5]
    assert stats['matched'].tolist() == [5]
    assert evaluator.compute([stats])['odsF'] == pytest.approx(
        100 * 2 * (5 / 6) / (1 + 5 / 6))


def line_maps(gt_row, probs_of_columns, false_row, false_prob):
    """10x10 maps: gt edge on row ``gt_row``, predicted there with the given
    per-column probabilities, plus a false line on ``false_row``."""
    gt = np.zeros((10, 10), dtype=np.int64)
    gt[gt_row] = 1
    prob = np.zeros((10, 10))
    prob[gt_row] = probs_of_columns
    prob[false_row] = false_prob
    return prob, gt


def test_ods_pools_counts_and_picks_the_best_threshold():
    first = line_maps(2, [0.9] * 2 + [0.6] * 4 + [0.4] * 4, 7, 0.3)
    second = line_maps(4, [0.9] * 10, 8, 0.3)
    evaluator = EdgeEvaluator('edges', num_thresholds=3)  # .25, .5, .75
    stats = [evaluator.process(*first), evaluator.process(*second)]
    assert stats[0]['num_pred'].tolist() == [20, 6, 2]
    assert stats[0]['matched'].tolist() == [10, 6, 2]
    assert stats[1]['num_pred'].tolist() == [20, 10, 10]
    assert stats[1]['matched'].tolist() == [10, 10, 10]
    # pooled over the two images, 20 gt pixels:
    # t=.25: P = 20/40, R = 1 -> 2/3;   t=.5: P = 1, R = 16/20 -> 8/9;
    # t=.75: P = 1, R = 12/20 -> 3/4.   (mean of per-image F at .5: 7/8)
    assert evaluator.compute(stats)['odsF'] == pytest.approx(800 / 9)


def test_ignored_pixels_are_neither_gt_nor_predictions():
    prob, gt = line_maps(2, [0.9] * 10, 7, 0.9)
    gt[7] = 255  # the false line lies on ignored pixels
    gt[2, 5:] = 255  # half of the gt line is ignored
    evaluator = EdgeEvaluator('edges', num_thresholds=1)
    stats = evaluator.process(prob, gt)
    assert stats['num_gt'] == 5
    assert stats['num_pred'].tolist() == [5]
    assert stats['num_valid'] == 100 - 15
    assert evaluator.compute([stats])['odsF'] == pytest.approx(100.0)


def test_no_prediction_scores_zero():
    _, gt = line_maps(2, 0.0, 7, 0.0)
    evaluator = EdgeEvaluator('edges', num_thresholds=5)
    stats = evaluator.process(np.zeros((10, 10)), gt)
    assert evaluator.compute([stats])['odsF'] == 0.0


def test_random_maps_equal_reference():
    rng = np.random.default_rng(3)
    probs = [rng.random((16, 21)) ** 3 for _ in range(3)]
    gts = [(rng.random((16, 21)) > 0.8).astype(np.int64) for _ in range(3)]
    gts[1][0, :] = 255
    evaluator = EdgeEvaluator('edges', num_thresholds=9, max_dist=0.1)
    out = evaluator.compute([evaluator.process(p, g)
                             for p, g in zip(probs, gts)])
    assert out['odsF'] == pytest.approx(
        reference_ods(probs, gts, evaluator.thresholds, 0.1))
