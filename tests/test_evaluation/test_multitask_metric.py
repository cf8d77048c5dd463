"""MultiTaskMetric end to end with MultiTaskDataSample objects."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

from mmmtl.evaluation import MultiTaskMetric
from mmmtl.evaluation.metrics import multitask_metric
from mmmtl.structures import MultiTaskDataSample

META = dict(tasks=('semseg', 'normals', 'depth', 'edges'),
            num_classes=dict(semseg=3, edges=2))


def make_sample(shape=(4, 6), pred_shape=None, img_shape=(8, 12)):
    """A sample with known errors: semseg half right, normals 90 degrees
    off on half the pixels, depth predicted at twice the gt, edges exact."""
    pred_shape = pred_shape or shape
    h, w = shape
    semseg = torch.zeros(1, h, w, dtype=torch.int64)
    semseg[:, :, w // 2:] = 1
    normals = torch.zeros(3, h, w)
    normals[2] = 1
    depth = torch.full((1, h, w), 2.0)
    edges = torch.zeros(1, h, w, dtype=torch.int64)
    edges[:, 1, :] = 1
    pred_normals = torch.zeros(3, *pred_shape)
    pred_normals[2, :, :pred_shape[1] // 2] = 1
    pred_normals[0, :, pred_shape[1] // 2:] = 1
    pred_edges = torch.zeros(1, *pred_shape)
    pred_edges[:, 1, :] = 1
    sample = MultiTaskDataSample(metainfo=dict(ori_shape=shape,
                                               img_shape=img_shape))
    sample.gt_maps = PixelData(semseg=semseg, normals=normals, depth=depth,
                               edges=edges)
    sample.pred_maps = PixelData(
        semseg=torch.zeros(1, *pred_shape, dtype=torch.int64),
        normals=pred_normals, depth=torch.full((1, *pred_shape), 4.0),
        edges=pred_edges)
    return sample


def run(metric, samples):
    metric.dataset_meta = META
    metric.process({}, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def test_end_to_end_values_and_delta_m():
    metric = MultiTaskMetric(baselines=dict(semseg=50.0,
                                            normals=dict(mean=60.0),
                                            depth=4.0, edges=50.0))
    out = run(metric, [make_sample(), make_sample()])
    # semseg: class 0 IoU 1/2, class 1 IoU 0 -> 25
    assert out['semseg/mIoU'] == pytest.approx(25.0)
    assert out['semseg/pixAcc'] == pytest.approx(50.0)
    assert out['normals/mean'] == pytest.approx(45.0, abs=1e-4)
    assert out['normals/30'] == pytest.approx(50.0)
    assert out['depth/rmse'] == pytest.approx(2.0)
    assert out['depth/absRel'] == pytest.approx(1.0)
    assert out['edges/odsF'] == pytest.approx(100.0)
    changes = [(25 - 50) / 50, -(45 - 60) / 60, -(2 - 4) / 4]
    assert out['delta_m'] == pytest.approx(100 * sum(changes) / 3, abs=1e-4)


def test_without_baselines_there_is_no_delta_m():
    out = run(MultiTaskMetric(), [make_sample()])
    assert 'delta_m' not in out
    assert set(k.split('/')[0] for k in out) == set(META['tasks'])


def test_mmengine_evaluator_converts_data_samples():
    evaluator = Evaluator(dict(type='MultiTaskMetric', tasks=('depth', ),
                               baselines=dict(depth=1.0), prefix='val'))
    evaluator.dataset_meta = META
    evaluator.process([make_sample(), make_sample()])
    out = evaluator.evaluate(2)
    assert set(out) == {f'val/depth/{k}' for k in (
        'rmse', 'absRel', 'log10', 'delta1', 'delta2', 'delta3')} | {
        'val/delta_m'}
    assert out['val/delta_m'] == pytest.approx(-100.0)


def test_gathered_results_equal_one_pass():
    rng = np.random.default_rng(4)
    samples = []
    for _ in range(4):
        sample = make_sample()
        sample.pred_maps.semseg = torch.from_numpy(
            rng.integers(0, 3, (1, 4, 6)))
        sample.pred_maps.normals = torch.from_numpy(
            rng.normal(size=(3, 4, 6)).astype(np.float32))
        samples.append(sample)
    ranks = [MultiTaskMetric(), MultiTaskMetric()]
    for i, rank in enumerate(ranks):
        rank.dataset_meta = META
        rank.process({}, [s.to_dict() for s in samples[i::2]])
    single = run(MultiTaskMetric(), samples)
    gathered = ranks[0].compute_metrics(ranks[0].results + ranks[1].results)
    assert gathered == pytest.approx(single)


def test_shape_mismatch_names_the_protocols():
    metric = MultiTaskMetric()
    metric.dataset_meta = META
    with pytest.raises(ValueError, match="output_size='original'"):
        metric.process({}, [make_sample(pred_shape=(8, 12)).to_dict()])


def test_unknown_task_errors():
    with pytest.raises(KeyError, match='unknown task'):
        MultiTaskMetric(tasks=('no_such_task', ))
    sample = make_sample()
    sample.pred_maps.set_data(dict(no_such_task=torch.zeros(1, 4, 6)))
    metric = MultiTaskMetric()
    metric.dataset_meta = dict(META, tasks=('no_such_task', ))
    with pytest.raises(KeyError, match='unknown task'):
        metric.process({}, [sample.to_dict()])


def test_missing_task_in_gt_raises():
    sample = make_sample()
    metric = MultiTaskMetric(tasks=('saliency', ))
    with pytest.raises(KeyError, match="'saliency'.*pred_maps"):
        metric.process({}, [sample.to_dict()])


def test_table_states_resolution_and_delta_m(monkeypatch):
    logged = []
    monkeypatch.setattr(multitask_metric, 'print_log',
                        lambda msg, logger=None: logged.append(msg))
    run(MultiTaskMetric(baselines=dict(depth=4.0)), [make_sample()])
    assert 'original image size (ori_shape)' in logged[0]
    assert 'Δm = +50.00 % over depth' in logged[0]
    assert 'excluded' in logged[0] and 'no baseline' in logged[0]
    logged.clear()
    sample = make_sample(shape=(8, 12), img_shape=(8, 12))
    sample.set_metainfo(dict(ori_shape=(16, 24)))
    run(MultiTaskMetric(), [sample])
    assert 'network input size (img_shape)' in logged[0]
