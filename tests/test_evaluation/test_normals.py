"""NormalsEvaluator: angular errors with known angles."""
import math

import numpy as np
import pytest
import torch

from mmmtl.evaluation import NormalsEvaluator


def maps(pred_vectors, gt_vectors):
    """Lists of 3-vectors -> (3, 1, N) prediction and gt maps."""
    pred = np.array(pred_vectors, dtype=np.float32).T[:, None, :]
    gt = np.array(gt_vectors, dtype=np.float32).T[:, None, :]
    return pred, gt


def test_known_angles():
    up = (0, 0, 1)
    pred, gt = maps([(0, 0, 1), (1, 0, 0), (1, 0, 1), (0, 0, -2), (1, 1, 1)],
                    [up, up, up, up, (0, 0, 0)])
    evaluator = NormalsEvaluator('normals')
    out = evaluator.compute([evaluator.process(pred, gt)])
    errors = np.array([0.0, 90.0, 45.0, 180.0])
    assert out['mean'] == pytest.approx(errors.mean(), abs=1e-4)
    assert out['rmse'] == pytest.approx(math.sqrt((errors ** 2).mean()),
                                        abs=1e-4)
    assert out['median'] == pytest.approx(67.5, abs=0.005 + 1e-6)
    assert out['11.25'] == out['22.5'] == out['30'] == pytest.approx(25.0)


def test_within_thresholds_are_strict_and_unnormalised_gt_works():
    angles = np.radians([10.0, 20.0, 29.0, 31.0])
    pred = [(math.sin(a), 0, math.cos(a)) for a in angles]
    pred, gt = maps(pred, [(0, 0, 3)] * 4)
    evaluator = NormalsEvaluator('normals')
    out = evaluator.compute([evaluator.process(torch.from_numpy(pred),
                                               torch.from_numpy(gt))])
    assert (out['11.25'], out['22.5'], out['30']) == pytest.approx(
        (25.0, 50.0, 75.0))
    assert out['mean'] == pytest.approx(22.5, abs=1e-3)


def test_histogram_median_over_images_within_resolution():
    rng = np.random.default_rng(2)
    evaluator = NormalsEvaluator('normals', resolution=0.01)
    stats, all_errors = [], []
    for size in (7, 10, 13):
        pred = rng.normal(size=(3, 4, size))
        gt = rng.normal(size=(3, 4, size))
        gt[:, 0, 0] = 0
        stats.append(evaluator.process(pred, gt))
        unit_p = pred / np.linalg.norm(pred, axis=0)
        unit_g = gt / np.maximum(np.linalg.norm(gt, axis=0), 1e-12)
        cos = np.clip((unit_p * unit_g).sum(0), -1, 1)
        all_errors.append(np.degrees(np.arccos(cos))[
            np.linalg.norm(gt, axis=0) > 0])
    errors = np.concatenate(all_errors)
    out = evaluator.compute(stats)
    assert out['median'] == pytest.approx(np.median(errors), abs=0.005 + 1e-9)
    assert out['mean'] == pytest.approx(errors.mean())
    assert out['rmse'] == pytest.approx(np.sqrt((errors ** 2).mean()))
    assert stats[0]['bins'].dtype == np.uint16


def test_bad_shape_raises():
    evaluator = NormalsEvaluator('normals')
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        evaluator.process(np.ones((2, 2, 3)), np.ones((2, 2, 3)))
