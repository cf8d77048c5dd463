"""Evaluator choice: by task name, then by kind, overridable."""
import pytest

from mmmtl.evaluation import (DepthEvaluator, EdgeEvaluator, LabelEvaluator,
                              NormalsEvaluator, SaliencyEvaluator,
                              build_task_evaluator)
from mmmtl.structures import TaskSpec, register_task


def test_default_choice_by_name_and_kind():
    assert type(build_task_evaluator('semseg', num_classes=21)) is \
        LabelEvaluator
    parts = build_task_evaluator('human_parts', num_classes=7)
    assert parts.skip_single_valued and parts.num_classes == 7
    assert type(build_task_evaluator('saliency')) is SaliencyEvaluator
    assert type(build_task_evaluator('edges')) is EdgeEvaluator
    assert type(build_task_evaluator('normals')) is NormalsEvaluator
    assert type(build_task_evaluator('depth')) is DepthEvaluator
    register_task(TaskSpec('test_occlusion', 'binary', 255))
    assert type(build_task_evaluator('test_occlusion')) is SaliencyEvaluator


def test_overrides():
    assert type(build_task_evaluator('edges', 'SaliencyEvaluator')) is \
        SaliencyEvaluator
    normals = build_task_evaluator('normals', dict(resolution=0.005))
    assert normals.resolution == 0.005
    semseg = build_task_evaluator(
        'semseg', dict(type='LabelEvaluator', num_classes=3), num_classes=21)
    assert semseg.num_classes == 3


def test_errors_name_the_task():
    with pytest.raises(KeyError, match='unknown task'):
        build_task_evaluator('no_such_task')
    with pytest.raises(KeyError, match="'semseg'.*num_classes"):
        build_task_evaluator('semseg')
    with pytest.raises(KeyError, match="unknown evaluator 'Nope'"):
        build_task_evaluator('depth', 'Nope')


def test_class_names_from_the_dataset_name_per_class_keys():
    semseg = build_task_evaluator('semseg', dict(per_class=True),
                                  num_classes=2, class_names=('bg', 'cat'))
    out = semseg.compute([semseg.process([[0, 1]], [[0, 0]])])
    assert out['IoU.bg'] == 50.0 and out['IoU.cat'] == 0.0
