"""check_model_tasks: model heads vs the tasks a dataset loads/provides."""
import pytest

from mmmtl.engine.hooks import check_model_tasks


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
