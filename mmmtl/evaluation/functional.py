"""Δm, the average relative change of a multi-task model vs its baselines.

.. math::

    \\Delta_m = \\frac{1}{T} \\sum_{t=1}^{T} (-1)^{l_t}
                \\frac{M_t - M_{t,single}}{M_{t,single}} \\times 100

with :math:`l_t = 1` when lower is better for task :math:`t`'s metric.
"""
import math
from typing import Container, Dict, Mapping, Union

#: Metric names for which a lower value is better (normals angular errors,
#: depth errors). Every other metric is higher-is-better.
LOWER_IS_BETTER_METRICS = frozenset({'mean', 'median', 'rmse', 'absRel',
                                     'log10'})

LowerIsBetter = Union[Container[str], Mapping[str, bool]]


def is_lower_better(metric: str) -> bool:
    """Whether a lower value of ``metric`` (e.g. ``'rmse'``) is better."""
    return metric in LOWER_IS_BETTER_METRICS


def relative_change(value: float, baseline: float,
                    lower_is_better: bool) -> float:
    """Signed relative change of ``value`` vs ``baseline`` in percent.

    Positive means better than the baseline whatever the metric's direction.
    """
    if baseline == 0:
        raise ValueError('relative change needs a non-zero baseline value')
    sign = -1.0 if lower_is_better else 1.0
    return sign * (value - baseline) / baseline * 100.0


def _lower(task: str, lower_is_better: LowerIsBetter) -> bool:
    if isinstance(lower_is_better, Mapping):
        return bool(lower_is_better.get(task, False))
    return task in lower_is_better


def relative_changes(results: Mapping[str, float],
                     baselines: Mapping[str, float],
                     lower_is_better: LowerIsBetter) -> Dict[str, float]:
    """Per-task relative change (percent) of ``results`` vs ``baselines``.

    Args:
        results: task -> the task's Δm metric value.
        baselines: task -> the single-task value of the same metric; must
            hold every task of ``results``.
        lower_is_better: the tasks whose metric is lower-is-better, as a set
            of task names or a dict task -> bool.

    Returns:
        dict task -> relative change in percent (positive = better).

    Raises:
        KeyError: a task of ``results`` has no baseline.
        ValueError: a value or baseline is not finite (NaN never becomes a
            score), or a baseline is 0.
    """
    missing = [task for task in results if task not in baselines]
    if missing:
        raise KeyError(f'no baseline for task(s) {missing}; baselines are '
                       f'given for: {", ".join(baselines) or "none"}')
    changes = {}
    for task, value in results.items():
        for what, number in (('value', value), ('baseline', baselines[task])):
            if not math.isfinite(number):
                raise ValueError(f'task {task!r}: its Δm {what} is {number}; '
                                 'Δm needs finite values')
        try:
            changes[task] = relative_change(value, baselines[task],
                                            _lower(task, lower_is_better))
        except ValueError:
            raise ValueError(f'baseline of task {task!r} is 0; Δm needs '
                             'non-zero baselines') from None
    return changes


def delta_m(results: Mapping[str, float], baselines: Mapping[str, float],
            lower_is_better: LowerIsBetter) -> float:
    """Δm in percent: the mean of :func:`relative_changes` over tasks.

    Args:
        results: task -> the task's Δm metric value (e.g. semseg mIoU).
        baselines: task -> the single-task baseline of the same metric.
        lower_is_better: tasks whose metric is lower-is-better (set of names
            or dict task -> bool).
    """
    if not results:
        raise ValueError('delta_m needs at least one task result')
    changes = relative_changes(results, baselines, lower_is_better)
    return sum(changes.values()) / len(changes)
