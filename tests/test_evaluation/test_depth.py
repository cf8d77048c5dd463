"""DepthEvaluator: dataset-level RMSE, absRel, log10 and deltas."""
import math

import numpy as np
import pytest

from mmmtl.evaluation import DepthEvaluator


def test_hand_computed_metrics():
    gt = np.array([[1.0, 2.0], [0.0, 4.0]], dtype=np.float32)
    pred = np.array([[2.0, 2.0], [5.0, 3.0]], dtype=np.float32)
    evaluator = DepthEvaluator('depth')
    out = evaluator.compute([evaluator.process(pred[None], gt[None])])
    assert out['rmse'] == pytest.approx(math.sqrt(2 / 3))
    assert out['absRel'] == pytest.approx((1 + 0 + 0.25) / 3)
    assert out['log10'] == pytest.approx(
        (math.log10(2) + math.log10(4 / 3)) / 3)
    assert out['delta1'] == pytest.approx(100 / 3)
    assert out['delta2'] == pytest.approx(200 / 3)
    assert out['delta3'] == pytest.approx(200 / 3)


def test_rmse_is_dataset_level_not_mean_of_images():
    evaluator = DepthEvaluator('depth')
    first = evaluator.process(np.full((1, 1), 3.0), np.full((1, 1), 1.0))
    second = evaluator.process(np.full((2, 4), 1.0), np.full((2, 4), 1.0))
    out = evaluator.compute([first, second])
    assert out['rmse'] == pytest.approx(math.sqrt(4 / 9))
    assert out['rmse'] != pytest.approx((2.0 + 0.0) / 2)


def test_non_positive_prediction_is_clamped_for_log_and_delta():
    evaluator = DepthEvaluator('depth', min_pred=1e-3)
    out = evaluator.compute([evaluator.process(np.array([[-1.0]]),
                                               np.array([[1.0]]))])
    assert out['rmse'] == pytest.approx(2.0)
    assert out['log10'] == pytest.approx(3.0)
    assert out['delta3'] == 0.0
