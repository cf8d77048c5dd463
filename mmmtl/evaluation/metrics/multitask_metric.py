"""MultiTaskMetric: every task's evaluator plus Δm vs configured baselines."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from prettytable import PrettyTable

from mmmtl.registry import METRICS
from mmmtl.structures import get_task
from ..evaluators import (TaskEvaluator, build_task_evaluator,
                          check_finite_prediction, to_numpy)
from ..functional import delta_m, is_lower_better, relative_changes

#: Δm metric by task name, then by task kind.
DEFAULT_DELTA_M_METRICS = dict(semseg='mIoU', human_parts='mIoU',
                               saliency='mIoU', normals='mean', depth='rmse',
                               edges='odsF')
KIND_DELTA_M_METRICS = dict(label='mIoU', binary='mIoU', normal='mean',
                            scalar='rmse')

RESOLUTION_NAMES = dict(original='original image size (ori_shape)',
                        input='network input size (img_shape)')


def _as_dict(maps: Any, key: str) -> Dict[str, Any]:
    """``PixelData`` or dict of task maps -> dict of task maps."""
    if maps is None:
        raise KeyError(f'data sample has no {key!r}; MultiTaskMetric needs '
                       "'pred_maps' and 'gt_maps' with one field per task")
    if isinstance(maps, BaseDataElement):
        maps = maps.to_dict()
    return maps


def _image_name(sample: dict) -> Optional[str]:
    """The image a sample comes from (path, id or index), if it says."""
    for key in ('img_path', 'img_id', 'sample_idx'):
        if sample.get(key) is not None:
            return str(sample[key])
    return None


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Per-task metrics of a multi-task model and its Δm.

    Each data sample (``MultiTaskDataSample`` or its ``to_dict()``) holds
    ``pred_maps`` and ``gt_maps`` with one (C, H, W) tensor per task, at the
    same spatial size. The returned keys are ``<task>/<metric>`` and, when
    baselines are configured, ``delta_m`` (percent).

    A prediction holding NaN or inf is refused (``ValueError`` naming the
    task and the image), and a task whose ground truth has no valid pixel
    in the whole evaluated set raises ``NoValidGroundTruthError`` naming
    the task: neither is ever scored.

    Args:
        tasks: tasks to evaluate; ``None``: ``dataset_meta['tasks']`` (or the
            ground truth's tasks) that the predictions contain.
        baselines: single-task reference values: ``task -> value of the
            task's Δm metric`` or ``task -> {metric name: value}``.
        delta_m_metrics: task -> metric key used in Δm (defaults:
            :data:`DEFAULT_DELTA_M_METRICS`, then by task kind).
        delta_m_exclude: tasks never used in Δm (default edges: odsF is
            not checked against SEISM's numbers, see docs/en/metrics.md).
        evaluators: task -> evaluator override (class name, config dict, or
            keyword dict for the default evaluator).
        collect_device: ``'cpu'`` or ``'gpu'`` for gathering across ranks.
        prefix: prefix of every key (mmengine).
        collect_dir: temporary directory for CPU gathering.
    """

    def __init__(self,
                 tasks: Optional[Sequence[str]] = None,
                 baselines: Optional[Dict[str, Union[float, dict]]] = None,
                 delta_m_metrics: Optional[Dict[str, str]] = None,
                 delta_m_exclude: Sequence[str] = ('edges', ),
                 evaluators: Optional[Dict[str, Union[str, dict]]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.tasks = None if tasks is None else tuple(tasks)
        for task in (self.tasks or ()):
            get_task(task)
        self.baselines = dict(baselines or {})
        self.delta_m_metrics = {**DEFAULT_DELTA_M_METRICS,
                                **(delta_m_metrics or {})}
        self.delta_m_exclude = frozenset(delta_m_exclude)
        self.evaluator_cfgs = dict(evaluators or {})
        self._evaluators: Dict[str, TaskEvaluator] = {}

    def evaluator(self, task: str) -> TaskEvaluator:
        """The (cached) evaluator of ``task``."""
        if task not in self._evaluators:
            meta = self.dataset_meta or {}
            self._evaluators[task] = build_task_evaluator(
                task, self.evaluator_cfgs.get(task),
                num_classes=meta.get('num_classes', {}).get(task),
                class_names=meta.get('classes', {}).get(task))
        return self._evaluators[task]

    def delta_m_metric(self, task: str) -> str:
        """Name of the metric of ``task`` that enters Δm."""
        if task in self.delta_m_metrics:
            return self.delta_m_metrics[task]
        return KIND_DELTA_M_METRICS[get_task(task).kind]

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Store every task's statistics of each sample in ``self.results``.

        Args:
            data_batch: the loader's batch (unused).
            data_samples: ``MultiTaskDataSample`` objects or their dicts.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            preds = _as_dict(sample.get('pred_maps'), 'pred_maps')
            gts = _as_dict(sample.get('gt_maps'), 'gt_maps')
            stats, shape = {}, None
            for task in self._sample_tasks(preds, gts):
                pred, gt = to_numpy(preds[task]), to_numpy(gts[task])
                check_finite_prediction(task, pred, _image_name(sample))
                self._check_shapes(task, pred, gt, sample)
                stats[task] = self.evaluator(task).process(pred, gt)
                shape = tuple(gt.shape[-2:])
            self.results.append(
                dict(stats=stats, resolution=self._resolution(sample, shape)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Per-task metrics, ``delta_m`` and a printed summary table."""
        per_task: Dict[str, List[dict]] = {}
        for result in results:
            for task, stats in result['stats'].items():
                per_task.setdefault(task, []).append(stats)
        metrics: Dict[str, float] = {}
        task_metrics: Dict[str, Dict[str, float]] = {}
        for task in self._ordered(per_task):
            task_metrics[task] = self.evaluator(task).compute(per_task[task])
            for name, value in task_metrics[task].items():
                metrics[f'{task}/{name}'] = value
        dm_values, dm_baselines = self.delta_m_inputs(task_metrics)
        changes = {}
        if dm_values:
            lower = {task: is_lower_better(self.delta_m_metric(task))
                     for task in dm_values}
            changes = relative_changes(dm_values, dm_baselines, lower)
            metrics['delta_m'] = delta_m(dm_values, dm_baselines, lower)
        self._log_table(task_metrics, dm_baselines, changes, metrics,
                        {r['resolution'] for r in results})
        return metrics

    def _sample_tasks(self, preds: dict, gts: dict) -> Tuple[str, ...]:
        if self.tasks is not None:
            tasks = self.tasks
        else:
            meta = self.dataset_meta or {}
            candidates = meta.get('tasks') or tuple(gts)
            tasks = tuple(t for t in candidates if t in preds)
            if not tasks:
                raise KeyError(f'the predictions hold none of the tasks '
                               f'{", ".join(candidates)} (predicted: '
                               f'{", ".join(preds) or "none"})')
        for task in tasks:
            get_task(task)
            for maps, what in ((preds, 'pred_maps'), (gts, 'gt_maps')):
                if task not in maps:
                    raise KeyError(f'task {task!r} is missing from the data '
                                   f'sample\'s {what} (it holds: '
                                   f'{", ".join(maps) or "nothing"})')
        return tasks

    @staticmethod
    def _check_shapes(task: str, pred, gt, sample: dict) -> None:
        if pred.shape[-2:] == gt.shape[-2:]:
            return
        raise ValueError(
            f'task {task!r}: prediction size {tuple(pred.shape[-2:])} '
            f'differs from ground-truth size {tuple(gt.shape[-2:])} '
            f'(ori_shape {sample.get("ori_shape")}, img_shape '
            f'{sample.get("img_shape")}). Predictions must be at the '
            "ground-truth resolution: use test_cfg.output_size='original' "
            'with annotations loaded after the resize in the test pipeline, '
            "or output_size='input' with the annotations resized in the "
            'pipeline.')

    @staticmethod
    def _resolution(sample: dict, shape: Optional[tuple]) -> Optional[str]:
        """``'original'``/``'input'`` when the sample's metainfo tells."""
        if shape is None:
            return None
        for key, name in (('ori_shape', 'original'), ('img_shape', 'input')):
            if key in sample and tuple(sample[key][:2]) == shape:
                return name
        return None

    def _ordered(self, tasks) -> List[str]:
        order = list(self.tasks or (self.dataset_meta or {}).get('tasks', ()))
        return ([t for t in order if t in tasks] +
                sorted(t for t in tasks if t not in order))

    def delta_m_inputs(self, task_metrics: Dict[str, Dict[str, float]]
                       ) -> Tuple[Dict[str, float], Dict[str, float]]:
        """The values Δm compares: ``task -> metric`` of the model and of
        its baseline, for every task with a baseline that is not excluded
        (``task_metrics``: ``task -> {metric name: value}``)."""
        values, baselines = {}, {}
        for task, results in task_metrics.items():
            if task in self.delta_m_exclude or task not in self.baselines:
                continue
            name = self.delta_m_metric(task)
            if name not in results:
                raise KeyError(f'Δm metric {name!r} of task {task!r} is not '
                               f'computed; available: {", ".join(results)}')
            baseline = self.baselines[task]
            if isinstance(baseline, dict):
                if name not in baseline:
                    raise KeyError(f'baselines[{task!r}] has no {name!r} '
                                   '(the Δm metric of the task)')
                baseline = baseline[name]
            values[task] = results[name]
            baselines[task] = float(baseline)
        return values, baselines

    def _log_table(self, task_metrics: Dict[str, Dict[str, float]],
                   baselines: Dict[str, float], changes: Dict[str, float],
                   metrics: Dict[str, float], resolutions: set) -> None:
        table = PrettyTable(['task', 'metrics', 'Δm metric', 'value',
                             'reference', 'rel. change (%)'])
        for task, results in task_metrics.items():
            name = self.delta_m_metric(task)
            row = [task, '  '.join(f'{k}={v:.2f}' for k, v in results.items()),
                   name, f'{results.get(name, float("nan")):.2f}']
            if task in changes:
                row += [f'{baselines[task]:.2f}', f'{changes[task]:+.2f}']
            else:
                reason = ('excluded' if task in self.delta_m_exclude
                          else 'no baseline')
                row += ['-', reason]
            table.add_row(row)
        lines = ['\n' + table.get_string()]
        if 'delta_m' in metrics:
            lines.append(f'Δm = {metrics["delta_m"]:+.2f} % over '
                         f'{", ".join(changes)}')
        else:
            lines.append('Δm not computed: no evaluated task has a baseline '
                         '(MultiTaskMetric(baselines=...))')
        known = sorted(r for r in resolutions if r is not None)
        if known and len(known) == len(resolutions):
            lines.append('evaluated at the ' + ' and '.join(
                RESOLUTION_NAMES[r] for r in known))
        print_log('\n'.join(lines), logger=MMLogger.get_current_instance())
