"""Fail early, with one clear message, when model and data disagree on tasks."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmtl.registry import HOOKS


def check_model_tasks(model_tasks: Sequence[str], dataset, split: str) -> None:
    """Raise ``KeyError`` when the model has a head for a task the dataset
    does not load.

    Args:
        model_tasks: task names of the model's heads.
        dataset: a ``MultiTaskDataset`` (its ``metainfo['tasks']`` are the
            loaded tasks, ``metainfo['available_tasks']`` all it provides).
        split: 'train', 'val' or 'test', for the message.
    """
    meta = dataset.metainfo
    loaded = tuple(meta.get('tasks', ()))
    provided = tuple(meta.get('available_tasks', loaded))
    for task in model_tasks:
        if task in loaded:
            continue
        name = type(dataset).__name__
        if task in provided:
            raise KeyError(
                f'the model has a head for task {task!r}, but the {split} '
                f'dataset ({name}) loads only {", ".join(loaded)}; add it to '
                f'{split}_dataloader.dataset.tasks')
        raise KeyError(
            f'the model has a head for task {task!r}, which the {split} '
            f'dataset ({name}) does not provide (it provides '
            f'{", ".join(provided)}); remove model.tasks.{task}')


@HOOKS.register_module()
class CheckTasksHook(Hook):
    """Check model tasks against the dataset of every loop before it runs."""

    priority = 'VERY_HIGH'

    def _check(self, runner, loop, split: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model_tasks = getattr(model, 'task_names', None)
        if model_tasks is None:
            return
        check_model_tasks(model_tasks, loop.dataloader.dataset, split)

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_loop, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop, 'test')
