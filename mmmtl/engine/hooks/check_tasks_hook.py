"""Fail early, with one clear message, when model and data disagree on
tasks or on a head's number of output channels."""
from typing import Mapping, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmmtl.registry import HOOKS
from mmmtl.structures import get_task

#: output channels a head may give, by task kind (label: the dataset's
#: number of classes); as ``logits_to_prediction`` accepts them.
KIND_CHANNELS = dict(binary=(1, 2), normal=(3, ), scalar=(1, ))


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


def check_head_channels(heads: Mapping[str, nn.Module], dataset,
                        split: str) -> None:
    """Raise ``ValueError`` when a head's ``out_channels`` does not fit its
    task: the dataset's number of classes for a label task
    (``metainfo['num_classes'][task]``), 1 or 2 for a binary task, 3 for
    normals, 1 for a scalar task.

    Heads without an integer ``out_channels`` attribute are not checked.

    Args:
        heads: task name -> head module (``MultiTaskSegmentor.heads``).
        dataset: the loop's dataset (its ``metainfo['num_classes']``).
        split: 'train', 'val' or 'test', for the message.
    """
    num_classes = dataset.metainfo.get('num_classes', {})
    for task, head in heads.items():
        out = getattr(head, 'out_channels', None)
        if not isinstance(out, int):
            continue
        kind = get_task(task).kind
        where = (f'task {task!r}: the model head ({type(head).__name__}) '
                 f'has out_channels={out}')
        fix = f'set model.tasks.{task}.head.out_channels'
        if kind == 'label':
            expected = num_classes.get(task)
            if expected is not None and out != expected:
                raise ValueError(
                    f'{where}, but the {split} dataset '
                    f'({type(dataset).__name__}) has {expected} classes for '
                    f'{task!r}; {fix}={expected}')
        elif out not in KIND_CHANNELS[kind]:
            allowed = ' or '.join(map(str, KIND_CHANNELS[kind]))
            raise ValueError(f'{where}, but a {kind} task needs {allowed}; '
                             f'{fix}={KIND_CHANNELS[kind][0]}')


@HOOKS.register_module()
class CheckTasksHook(Hook):
    """Check model tasks and head channels against the dataset of every
    loop before it runs."""

    priority = 'VERY_HIGH'

    def _check(self, runner, loop, split: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model_tasks = getattr(model, 'task_names', None)
        if model_tasks is None:
            return
        dataset = loop.dataloader.dataset
        check_model_tasks(model_tasks, dataset, split)
        check_head_channels(getattr(model, 'heads', {}), dataset, split)

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_loop, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop, 'test')
