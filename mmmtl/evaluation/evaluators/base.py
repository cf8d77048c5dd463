"""Per-task evaluators: the base class, the name -> class map and a builder.

An evaluator turns one image's prediction and ground truth into small
*sufficient statistics* (:meth:`TaskEvaluator.process`), and a list of those
into the task's metrics (:meth:`TaskEvaluator.compute`). The statistics are
plain dicts of numbers and numpy arrays, so mmengine can gather them from all
ranks, and their size does not grow with the image size beyond a fixed bound.
"""
from typing import Any, Dict, Optional, Sequence, Type, Union

import numpy as np
import torch

from mmmtl.structures import get_task

ArrayLike = Union[np.ndarray, torch.Tensor]
Stats = Dict[str, Any]

#: name -> evaluator class; fill with :func:`register_evaluator`.
TASK_EVALUATORS: Dict[str, Type['TaskEvaluator']] = {}

#: evaluators chosen by task name before falling back to the task's kind.
DEFAULT_TASK_EVALUATORS: Dict[str, dict] = {
    'human_parts': dict(type='LabelEvaluator', skip_single_valued=True),
    'saliency': dict(type='SaliencyEvaluator'),
    'edges': dict(type='EdgeEvaluator'),
}

#: evaluators by task kind (:data:`mmmtl.structures.KINDS`).
DEFAULT_KIND_EVALUATORS: Dict[str, dict] = {
    'label': dict(type='LabelEvaluator'),
    'binary': dict(type='SaliencyEvaluator'),
    'normal': dict(type='NormalsEvaluator'),
    'scalar': dict(type='DepthEvaluator'),
}


def register_evaluator(cls: Type['TaskEvaluator']) -> Type['TaskEvaluator']:
    """Class decorator adding ``cls`` to :data:`TASK_EVALUATORS`."""
    if cls.__name__ in TASK_EVALUATORS:
        raise KeyError(f'evaluator {cls.__name__!r} is already registered')
    TASK_EVALUATORS[cls.__name__] = cls
    return cls


class NoValidGroundTruthError(ValueError):
    """A task's ground truth has no valid pixel in the whole evaluated set,
    so its metrics are undefined (raised instead of NaN or a fake score)."""


class NonFinitePredictionError(ValueError):
    """A prediction holds NaN or infinite values (refused, not scored)."""


def to_numpy(array: ArrayLike) -> np.ndarray:
    """Tensor (any device) or array -> numpy array."""
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def check_finite_prediction(task: str, pred: np.ndarray,
                            image: Optional[str] = None) -> None:
    """Raise :class:`NonFinitePredictionError` when the float prediction
    ``pred`` of ``task`` (of ``image``, if known) holds NaN or inf."""
    if not np.issubdtype(pred.dtype, np.inexact):
        return
    finite = np.isfinite(pred)
    if finite.all():
        return
    nan = int(np.isnan(pred).sum())
    inf = int(pred.size - finite.sum()) - nan
    where = f' of image {image}' if image else ''
    raise NonFinitePredictionError(
        f'task {task!r}: the prediction{where} holds {nan} NaN and {inf} '
        f'infinite value(s) out of {pred.size}; refusing to score it (the '
        'model diverged or its output was corrupted)')


class TaskEvaluator:
    """Base class of the per-task evaluators.

    Args:
        task: name of the evaluated task (used in error messages).
    """

    #: whether the builder must pass ``num_classes``.
    requires_num_classes = False

    def __init__(self, task: str) -> None:
        self.task = task

    def process(self, pred: ArrayLike, gt: ArrayLike) -> Stats:
        """Statistics of one image; arrays as in ``pred_maps``/``gt_maps``."""
        raise NotImplementedError

    def compute(self, stats: Sequence[Stats]) -> Dict[str, float]:
        """Metrics (plain floats) from the statistics of every image."""
        raise NotImplementedError

    def no_valid_pixels(self, num_images: int,
                        reason: str) -> NoValidGroundTruthError:
        """The error for a set whose ground truth has no valid pixel.

        Args:
            num_images: number of evaluated images.
            reason: what makes every pixel invalid, for the message.
        """
        return NoValidGroundTruthError(
            f'task {self.task!r}: no valid ground-truth pixel in the '
            f'{num_images} evaluated image(s) ({reason}), so its metrics are '
            'undefined; check the annotations with '
            'tools/misc/check_dataset.py or leave the task out of the '
            'evaluation (MultiTaskMetric(tasks=...))')

    def _prediction(self, pred: ArrayLike) -> np.ndarray:
        """``pred`` as a numpy array; non-finite values are refused."""
        pred = to_numpy(pred)
        check_finite_prediction(self.task, pred)
        return pred

    def _single_channel(self, array: ArrayLike, what: str) -> np.ndarray:
        """(H, W) or (1, H, W) -> (H, W) numpy array."""
        array = to_numpy(array)
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 2:
            raise ValueError(f'task {self.task!r}: expected the {what} as '
                             f'(H, W) or (1, H, W), got shape {array.shape}')
        return array

    def _check_same_shape(self, pred: np.ndarray, gt: np.ndarray) -> None:
        if pred.shape != gt.shape:
            raise ValueError(f'task {self.task!r}: prediction shape '
                             f'{pred.shape} differs from ground-truth shape '
                             f'{gt.shape}')


def _resolve_cfg(task: str, cfg: Union[None, str, dict]) -> dict:
    """Default config for ``task`` updated by an override ``cfg``.

    ``cfg`` may be a class name, a full config ``dict(type=..., ...)`` or
    keyword arguments for the default evaluator (a dict without ``type``).
    """
    default = DEFAULT_TASK_EVALUATORS.get(task)
    if default is None:
        default = DEFAULT_KIND_EVALUATORS[get_task(task).kind]
    if cfg is None:
        return dict(default)
    if isinstance(cfg, str):
        return dict(type=cfg)
    if not isinstance(cfg, dict):
        raise TypeError(f'evaluator config of task {task!r} must be a class '
                        f'name or a dict, got {type(cfg).__name__}')
    if 'type' in cfg:
        return dict(cfg)
    return {**default, **cfg}


def build_task_evaluator(task: str,
                         cfg: Union[None, str, dict] = None,
                         num_classes: Optional[int] = None,
                         class_names: Optional[Sequence[str]] = None
                         ) -> TaskEvaluator:
    """Build the evaluator of ``task``.

    The evaluator is chosen by task name when a specific one exists
    (:data:`DEFAULT_TASK_EVALUATORS`), else by the task's kind
    (:data:`DEFAULT_KIND_EVALUATORS`); ``cfg`` overrides either.

    Args:
        task: a registered task name (unknown names raise ``KeyError``).
        cfg: optional override (class name, config dict or keyword dict).
        num_classes: number of classes, passed to evaluators that need it.
        class_names: class names, passed along with ``num_classes``.
    """
    get_task(task)
    cfg = _resolve_cfg(task, cfg)
    name = cfg.pop('type')
    if name not in TASK_EVALUATORS:
        raise KeyError(f'unknown evaluator {name!r} for task {task!r}; '
                       f'known: {", ".join(sorted(TASK_EVALUATORS))}')
    cls = TASK_EVALUATORS[name]
    if cls.requires_num_classes and 'num_classes' not in cfg:
        if num_classes is None:
            raise KeyError(f'task {task!r}: {name} needs the number of '
                           "classes (dataset_meta['num_classes'] "
                           f'[{task!r}] or num_classes in its config)')
        cfg['num_classes'] = num_classes
    if (cls.requires_num_classes and class_names is not None
            and 'class_names' not in cfg):
        cfg['class_names'] = tuple(class_names)
    return cls(task=task, **cfg)
