"""check_model_tasks: model heads vs the tasks a dataset loads/provides;
check_head_channels: head out_channels vs the dataset's classes."""
import pytest
from torch import nn

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.engine.hooks import check_model_tasks
from mmmtl.engine.hooks.check_tasks_hook import check_head_channels
from repo_files import REPO, load_module


class FakeDataset:

    def __init__(self, loaded, provided):
        self.metainfo = dict(tasks=loaded, available_tasks=provided)


def test_matching_tasks_pass():
    check_model_tasks(['semseg'], FakeDataset(('semseg', 'depth'),
                                              ('semseg', 'depth')), 'train')


def test_task_provided_but_not_loaded():
    with pytest.raises(KeyError, match="add it to val_dataloader.dataset"):
        check_model_tasks(['depth'], FakeDataset(('semseg', ),
                                                 ('semseg', 'depth')), 'val')


def test_task_not_provided():
    with pytest.raises(KeyError, match=r"does not provide \(it provides "
                       r"semseg\); remove model.tasks.depth"):
        check_model_tasks(['semseg', 'depth'],
                          FakeDataset(('semseg', ), ('semseg', )), 'train')


class Head(nn.Module):

    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels


class ClassDataset(FakeDataset):

    def __init__(self, num_classes):
        super().__init__(tuple(num_classes), tuple(num_classes))
        self.metainfo['num_classes'] = num_classes


def test_label_head_channels_must_equal_the_dataset_classes():
    dataset = ClassDataset(dict(semseg=21, human_parts=7))
    check_head_channels(dict(semseg=Head(21), human_parts=Head(7)), dataset,
                        'train')
    with pytest.raises(ValueError) as err:
        check_head_channels(dict(semseg=Head(21), human_parts=Head(6)),
                            dataset, 'val')
    assert str(err.value) == (
        "task 'human_parts': the model head (Head) has out_channels=6, but "
        'the val dataset (ClassDataset) has 7 classes for '
        "'human_parts'; set model.tasks.human_parts.head.out_channels=7")


@pytest.mark.parametrize('task,good,bad', [
    ('saliency', (1, 2), 3), ('normals', (3, ), 1), ('depth', (1, ), 3)])
def test_other_kinds_need_their_channels(task, good, bad):
    dataset = ClassDataset(dict(saliency=2))
    for channels in good:
        check_head_channels({task: Head(channels)}, dataset, 'train')
    with pytest.raises(ValueError, match=f"task '{task}': the model head "
                       fr'\(Head\) has out_channels={bad}, but a'):
        check_head_channels({task: Head(bad)}, dataset, 'train')


def test_heads_without_out_channels_are_not_checked():
    check_head_channels(dict(semseg=nn.Identity()),
                        ClassDataset(dict(semseg=21)), 'train')


def test_train_tool_stops_before_training_naming_both_numbers(
        tmp_path, capsys):
    root = generate_synthetic_dataset(str(tmp_path / 'syn'), num_train=2,
                                      num_val=1, size=32)
    tool = load_module('tools/train.py')
    with pytest.raises(SystemExit) as exit_info:
        tool.main([str(REPO / 'configs/full_ft/'
                       'full_ft_mtl_swin_t_synthetic.py'),
                   '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                   f'train_dataloader.dataset.data_root={root}',
                   f'val_dataloader.dataset.data_root={root}',
                   'model.tasks.semseg.head.out_channels=5'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: task 'semseg': the model head (MultiScaleFusionHead) has "
        'out_channels=5, but the train dataset (SyntheticMultiTaskDataset) '
        "has 6 classes for 'semseg'; set "
        'model.tasks.semseg.head.out_channels=6')
    assert not list((tmp_path / 'work').rglob('*.pth'))
