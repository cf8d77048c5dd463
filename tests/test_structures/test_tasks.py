"""Task specs and the multi-task data sample."""
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.structures import (MultiTaskDataSample, TaskSpec, check_tasks,
                              get_task, known_tasks, register_task)


def test_builtin_tasks_and_their_kinds():
    expected = dict(semseg='label', human_parts='label', saliency='binary',
                    edges='binary', normals='normal', depth='scalar')
    assert set(expected) <= set(known_tasks())  # tests may register more
    assert {name: get_task(name).kind for name in expected} == expected
    assert get_task('normals').gt_channels == 3
    assert get_task('depth').gt_channels == 1
    assert get_task('semseg').ignore_value == 255
    assert get_task('normals').ignore_value == 0.0
    assert get_task('edges').is_discrete and not get_task('depth').is_discrete


def test_unknown_task_error_lists_known_tasks():
    with pytest.raises(KeyError, match='unknown task .segmantic.*semseg'):
        get_task('segmantic')


def test_check_tasks_against_dataset():
    assert check_tasks(['semseg', 'depth'], available=('semseg', 'depth')) \
        == ('semseg', 'depth')
    with pytest.raises(KeyError, match="'depth' requested by the config is "
                       'not provided by the dataset; it provides: semseg'):
        check_tasks(['depth'], available=('semseg', ))


def test_register_task_validates_kind_and_conflicts():
    with pytest.raises(ValueError, match='kind'):
        TaskSpec('albedo', 'colour', 0)
    spec = register_task(TaskSpec('test_albedo', 'scalar', 0.0))
    assert get_task('test_albedo') is spec
    register_task(TaskSpec('test_albedo', 'scalar', 0.0))  # same: fine
    with pytest.raises(KeyError, match='already registered'):
        register_task(TaskSpec('test_albedo', 'normal', 0.0))


def test_data_sample_holds_gt_and_predictions():
    sample = MultiTaskDataSample(metainfo=dict(img_shape=(2, 3)))
    sample.gt_maps = PixelData(semseg=torch.zeros(1, 2, 3, dtype=torch.long),
                               normals=torch.ones(3, 2, 3))
    sample.pred_maps = PixelData(semseg=torch.ones(1, 2, 3, dtype=torch.long))
    assert sample.gt_maps.normals.shape == (3, 2, 3)
    assert int(sample.pred_maps.semseg.sum()) == 6
    with pytest.raises(AssertionError):
        sample.gt_maps = dict(semseg=torch.zeros(1, 2, 3))
    del sample.pred_maps
    assert 'pred_maps' not in sample
