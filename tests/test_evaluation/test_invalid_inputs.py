"""Evaluators refuse what they cannot score: non-finite predictions and
ground truth without any valid pixel (never NaN, never a perfect score)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.evaluation import (DepthEvaluator, EdgeEvaluator, LabelEvaluator,
                              MultiTaskMetric, NonFinitePredictionError,
                              NormalsEvaluator, NoValidGroundTruthError,
                              SaliencyEvaluator, delta_m)
from mmmtl.structures import MultiTaskDataSample

SHAPE = (4, 5)


def evaluators():
    """(evaluator, valid prediction, entirely ignored gt) per task kind."""
    prob = np.full((1, ) + SHAPE, 0.7, np.float32)
    normals = np.zeros((3, ) + SHAPE, np.float32)
    normals[2] = 1
    return [
        (LabelEvaluator('semseg', num_classes=3),
         np.zeros((1, ) + SHAPE, np.int64), np.full((1, ) + SHAPE, 255)),
        (SaliencyEvaluator('saliency'), prob, np.full((1, ) + SHAPE, 255)),
        (EdgeEvaluator('edges'), prob, np.full((1, ) + SHAPE, 255)),
        (NormalsEvaluator('normals'), normals,
         np.zeros((3, ) + SHAPE, np.float32)),
        (DepthEvaluator('depth'), np.ones((1, ) + SHAPE, np.float32),
         np.zeros((1, ) + SHAPE, np.float32)),
    ]


@pytest.mark.parametrize('index', range(5))
def test_entirely_ignored_ground_truth_raises_naming_the_task(index):
    evaluator, pred, gt = evaluators()[index]
    stats = [evaluator.process(pred, gt), evaluator.process(pred, gt)]
    with pytest.raises(NoValidGroundTruthError,
                       match=f"task '{evaluator.task}': no valid "
                       'ground-truth pixel in the 2 evaluated image'):
        evaluator.compute(stats)


@pytest.mark.parametrize('index', range(1, 5))
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_float_prediction_is_refused(index, bad):
    evaluator, pred, _ = evaluators()[index]
    pred = pred.copy()
    pred.flat[3] = bad
    gt = np.ones_like(pred, dtype=np.float32 if pred.shape[0] == 3 else
                      np.int64)
    counts = '1 NaN and 0 infinite' if np.isnan(bad) else \
        '0 NaN and 1 infinite'
    with pytest.raises(NonFinitePredictionError,
                       match=f"task '{evaluator.task}'.*holds {counts} "
                       f'value\\(s\\) out of {pred.size}'):
        evaluator.process(pred, gt)


def test_float_label_prediction_with_nan_is_refused():
    pred = np.zeros((1, ) + SHAPE, np.float32)
    pred[0, 0, 0] = np.nan
    with pytest.raises(NonFinitePredictionError, match="'semseg'.*1 NaN"):
        LabelEvaluator('semseg', num_classes=3).process(
            pred, np.zeros((1, ) + SHAPE))


def test_human_parts_all_skipped_says_why():
    evaluator = LabelEvaluator('human_parts', num_classes=7,
                               skip_single_valued=True)
    stats = [evaluator.process(np.zeros(SHAPE), np.zeros(SHAPE)),
             evaluator.process(np.zeros(SHAPE), np.full(SHAPE, 255))]
    with pytest.raises(NoValidGroundTruthError,
                       match="'human_parts'.*2 image.*skipped.*single value"):
        evaluator.compute(stats)


def test_saliency_image_without_valid_pixel_is_not_a_perfect_score():
    evaluator = SaliencyEvaluator('saliency')
    wrong = evaluator.process(np.full(SHAPE, 0.95), np.zeros(SHAPE))
    ignored = evaluator.process(np.full(SHAPE, 0.1), np.full(SHAPE, 255))
    alone = evaluator.compute([wrong])
    assert evaluator.compute([wrong, ignored]) == alone
    assert alone['mIoU'] == 0.0


def sample(gt_semseg, pred_depth, img_path='a/b/img_7.jpg'):
    out = MultiTaskDataSample(metainfo=dict(ori_shape=SHAPE,
                                            img_path=img_path))
    out.gt_maps = PixelData(semseg=torch.from_numpy(gt_semseg)[None],
                            depth=torch.ones(1, *SHAPE))
    out.pred_maps = PixelData(
        semseg=torch.zeros(1, *SHAPE, dtype=torch.int64),
        depth=torch.from_numpy(pred_depth)[None])
    return out.to_dict()


def test_metric_names_task_and_image_of_a_non_finite_prediction():
    metric = MultiTaskMetric(tasks=('semseg', 'depth'))
    metric.dataset_meta = dict(tasks=('semseg', 'depth'),
                               num_classes=dict(semseg=3))
    depth = np.ones(SHAPE, np.float32)
    depth[1, 2] = np.nan
    with pytest.raises(ValueError, match="task 'depth'.*image "
                       'a/b/img_7.jpg.*1 NaN'):
        metric.process({}, [sample(np.zeros(SHAPE, np.int64), depth)])
    assert metric.results == []


def test_metric_with_ignored_task_never_reports_a_delta_m():
    metric = MultiTaskMetric(tasks=('semseg', 'depth'),
                             baselines=dict(semseg=50.0, depth=1.0))
    metric.dataset_meta = dict(tasks=('semseg', 'depth'),
                               num_classes=dict(semseg=3))
    ignored = np.full(SHAPE, 255, np.int64)
    metric.process({}, [sample(ignored, np.ones(SHAPE, np.float32))] * 2)
    with pytest.raises(NoValidGroundTruthError, match="'semseg'"):
        metric.compute_metrics(metric.results)


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_delta_m_refuses_non_finite_values(value):
    with pytest.raises(ValueError, match="task 'semseg'.*Δm value"):
        delta_m(dict(semseg=value, depth=1.0),
                dict(semseg=50.0, depth=1.0), {'depth'})
    with pytest.raises(ValueError, match="task 'depth'.*Δm baseline"):
        delta_m(dict(depth=1.0), dict(depth=value), {'depth'})
