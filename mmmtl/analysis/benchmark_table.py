"""Train a list of configs and tabulate parameters, metrics and Δm.

Two stages, used by ``tools/analysis/benchmark_table.py``:

* **run**: :func:`plan_runs` turns configs into :class:`RunSpec` s (one
  per config, or one per task of each config with ``single_task``, which
  adds ``model.task_names=[<task>]``); :func:`run_locally` trains each
  with ``tools/train.py`` in its own work dir, :func:`write_slurm_scripts`
  writes one sbatch script per run instead. Each work dir gets a
  ``benchmark_run.json`` marker saying which method (and task) it holds.
* **collect**: :func:`collect` reads each work dir's validation metrics
  (``<timestamp>/vis_data/scalars.json``, the last validation or the one
  the best checkpoint was saved at), builds the model from the config
  dumped there to count its trainable parameters in both conventions of
  :mod:`mmmtl.analysis.counting`, and merges the single-task runs
  of a method into one row; :func:`write_outputs` writes ``table.md``,
  ``table.csv``, ``table.json`` and ``delta_m_vs_params.png``.
"""
import argparse
import csv
import glob
import json
import math
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.figure import Figure
from mmengine.config import Config, DictAction

from mmmtl.apis import load_config
from mmmtl.evaluation.functional import delta_m, is_lower_better
from mmmtl.evaluation.metrics import MultiTaskMetric
from mmmtl.registry import METRICS, MODELS
from .counting import CONVENTIONS, DESCRIPTIONS, param_report

#: file written into each work dir by ``run``: method, task, config.
MARKER = 'benchmark_run.json'
PICKS = ('last', 'best')
BEST_CKPT_RE = re.compile(r'^best_.+_(?:iter|epoch)_(\d+)\.pth$')
OUTPUT_FILES = dict(markdown='table.md', csv='table.csv', json='table.json',
                    plot='delta_m_vs_params.png')


class BenchmarkError(ValueError):
    """A config, work dir or log that cannot be tabulated; the message
    names it."""


@dataclass(frozen=True)
class RunSpec:
    """One training: ``config`` into ``work_dir``.

    Attributes:
        method: the table row's name (the config's file name stem).
        config: absolute config path.
        work_dir: absolute work dir.
        task: the one task a single-task run trains, else None.
        cfg_options: ``key=value`` strings for ``--cfg-options``.
    """

    method: str
    config: str
    work_dir: str
    task: Optional[str] = None
    cfg_options: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """Run (work dir, job) name."""
        return osp.basename(self.work_dir)

    def train_args(self, launcher: Optional[str] = None) -> List[str]:
        """Arguments of ``tools/train.py`` for this run."""
        options = list(self.cfg_options)
        if self.task is not None:
            options.append(f'model.task_names=[{self.task}]')
        args = [self.config]
        if launcher is not None:
            args += ['--launcher', launcher]
        args += ['--work-dir', self.work_dir]
        return args + (['--cfg-options', *options] if options else [])


def read_config_list(items: Sequence[str]) -> List[str]:
    """Absolute config paths from ``items``: a ``.py`` item is a config,
    any other a text file listing configs (one per line; blank lines and
    ``#`` comments ignored; relative paths read from the working dir).
    """
    configs = []
    for item in items:
        if item.endswith('.py'):
            paths = [item]
        elif osp.isfile(item):
            with open(item) as f:
                paths = [line.split('#', 1)[0].strip() for line in f]
            paths = [p for p in paths if p]
            if not paths:
                raise BenchmarkError(f'config list {item} names no config')
        else:
            raise BenchmarkError(f'{item} is neither a config (.py) nor a '
                                 'file listing configs')
        for path in paths:
            if not osp.isfile(path):
                raise BenchmarkError(f'config file not found: {path}'
                                     + ('' if path == item else
                                        f' (listed in {item})'))
            configs.append(osp.abspath(path))
    return configs


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``['a.b=1', ...]`` -> ``{'a.b': 1}`` exactly as the tools' own
    ``--cfg-options`` (mmengine's ``DictAction``) parses them."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    if not options:
        return {}
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def config_tasks(cfg: Config) -> Tuple[str, ...]:
    """The tasks a config's model builds: ``model.task_names``, else the
    keys of ``model.tasks``."""
    model = cfg.get('model') or {}
    tasks = model.get('task_names') or tuple(model.get('tasks') or ())
    return (tasks, ) if isinstance(tasks, str) else tuple(tasks)


def plan_runs(configs: Sequence[str], work_root: str,
              cfg_options: Sequence[str] = (),
              single_task: bool = False) -> List[RunSpec]:
    """One :class:`RunSpec` per config (work dir ``<work_root>/<name>``),
    or with ``single_task`` one per task of each config (work dir
    ``<work_root>/<name>_single_<task>``).

    Raises:
        BenchmarkError: a config fails to load or configures no task, or
            two configs share a file name (their work dirs would collide).
    """
    work_root = osp.abspath(work_root)
    options = tuple(cfg_options)
    specs, seen = [], {}
    for config in configs:
        method = osp.splitext(osp.basename(config))[0]
        if method in seen:
            raise BenchmarkError(f'configs {seen[method]} and {config} have '
                                 f'the same name {method!r}: rename one')
        seen[method] = config
        if not single_task:
            specs.append(RunSpec(method, config,
                                 osp.join(work_root, method),
                                 cfg_options=options))
            continue
        try:
            cfg = load_config(config, parse_cfg_options(options))
        except Exception as exc:
            raise BenchmarkError(f'config {config} fails to load: '
                                 f'{type(exc).__name__}: {exc}') from exc
        tasks = config_tasks(cfg)
        if not tasks:
            raise BenchmarkError(f'config {config} configures no task '
                                 '(model.tasks is empty)')
        specs += [RunSpec(method, config,
                          osp.join(work_root, f'{method}_single_{task}'),
                          task, options) for task in tasks]
    return specs


def write_marker(spec: RunSpec) -> str:
    """Create ``spec.work_dir`` and write :data:`MARKER` into it."""
    os.makedirs(spec.work_dir, exist_ok=True)
    path = osp.join(spec.work_dir, MARKER)
    with open(path, 'w') as f:
        json.dump(dict(method=spec.method, task=spec.task,
                       config=spec.config,
                       cfg_options=list(spec.cfg_options)), f, indent=2)
    return path


def run_locally(specs: Sequence[RunSpec], train_script: str) -> None:
    """Train every run with ``python train_script`` in a subprocess, one
    after another (the output goes to this process's stdout/stderr).

    Raises:
        BenchmarkError: after all runs, naming each one that failed.
    """
    failed = []
    for index, spec in enumerate(specs, 1):
        write_marker(spec)
        print(f'[{index}/{len(specs)}] training {spec.name}', flush=True)
        code = subprocess.run(
            [sys.executable, train_script, *spec.train_args()]).returncode
        if code != 0:
            failed.append(f'{spec.config}'
                          + (f' (task {spec.task})' if spec.task else '')
                          + f': exit status {code}, log in {spec.work_dir}')
    if failed:
        raise BenchmarkError(f'{len(failed)} of {len(specs)} trainings '
                             'failed: ' + '; '.join(failed))


def slurm_script(spec: RunSpec, partition: str, train_script: str,
                 repo_root: str, gpus: int = 4, gpus_per_node: int = 4,
                 cpus_per_task: int = 5) -> str:
    """An sbatch script that trains ``spec`` as ``tools/slurm_train.sh``
    does: one task per GPU, ``srun python -u train.py CONFIG --launcher
    slurm``, the repository on ``PYTHONPATH``, run from the working dir."""
    per_node = min(gpus, gpus_per_node)
    command = ['srun', '--kill-on-bad-exit=1', 'python', '-u',
               train_script, *spec.train_args(launcher='slurm')]
    lines = [
        '#!/usr/bin/env bash',
        f'#SBATCH --partition={partition}',
        f'#SBATCH --job-name={spec.name}',
        f'#SBATCH --nodes={math.ceil(gpus / per_node)}',
        f'#SBATCH --ntasks={gpus}',
        f'#SBATCH --ntasks-per-node={per_node}',
        f'#SBATCH --gres=gpu:{per_node}',
        f'#SBATCH --cpus-per-task={cpus_per_task}',
        f'#SBATCH --chdir={os.getcwd()}',
        f'#SBATCH --output={osp.join(spec.work_dir, "slurm-%j.out")}',
        f'export PYTHONPATH={shlex.quote(repo_root)}:$PYTHONPATH',
        shlex.join(command),
    ]
    return '\n'.join(lines) + '\n'


def write_slurm_scripts(specs: Sequence[RunSpec], partition: str,
                        train_script: str, repo_root: str,
                        **resources) -> List[str]:
    """Write ``<work_root>/slurm/<run>.sh`` per run (and each run's
    marker); return the ``sbatch`` commands that submit them."""
    commands = []
    for spec in specs:
        write_marker(spec)
        folder = osp.join(osp.dirname(spec.work_dir), 'slurm')
        os.makedirs(folder, exist_ok=True)
        path = osp.join(folder, f'{spec.name}.sh')
        with open(path, 'w') as f:
            f.write(slurm_script(spec, partition, train_script, repo_root,
                                 **resources))
        commands.append(f'sbatch {shlex.quote(path)}')
    return commands


@dataclass
class RunResult:
    """What :func:`load_run` reads from one work dir.

    Attributes:
        work_dir: the work dir.
        method: row name (marker's method, else the work dir's name).
        task: the task of a single-task run (marker), else None.
        step: iteration (or epoch) of the picked validation.
        metrics: ``<task>/<metric>`` -> value of that validation.
        delta_m: the logged ``delta_m`` (None when not logged).
        headline: task -> the name of its Δm metric (``MultiTaskMetric``).
        dm_inputs: task -> (value, baseline) of its Δm metric, for the
            tasks with a baseline that Δm does not exclude.
        trainable: convention -> trainable parameters (``headline`` of
            :func:`param_report`).
        backbone_total: parameters of the wrapped backbone.
    """

    work_dir: str
    method: str
    task: Optional[str]
    step: int
    metrics: Dict[str, float]
    delta_m: Optional[float]
    headline: Dict[str, str]
    dm_inputs: Dict[str, Tuple[float, float]]
    trainable: Dict[str, int]
    backbone_total: int


@dataclass
class Row:
    """One method of the table (a multi-task run, or a method's
    single-task runs merged)."""

    method: str
    kind: str
    work_dirs: List[str]
    steps: List[int]
    trainable: Dict[str, int]
    backbone_total: int
    metrics: Dict[str, float]
    headline: Dict[str, str]
    delta_m: Optional[float]
    trainable_pct: Dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.trainable_pct = {
            c: 100.0 * n / max(self.backbone_total, 1)
            for c, n in self.trainable.items()}


def is_work_dir(path: str) -> bool:
    """Whether ``path`` holds a run: a marker or mmengine's logs."""
    return osp.isfile(osp.join(path, MARKER)) or bool(
        glob.glob(osp.join(path, '*', 'vis_data')))


def find_work_dirs(paths: Sequence[str]) -> List[str]:
    """Each path that is a work dir, else its sub-directories that are.

    Raises:
        BenchmarkError: a path is not a directory, or neither is nor
            holds a work dir.
    """
    found = []
    for path in paths:
        if not osp.isdir(path):
            raise BenchmarkError(f'{path} is not a directory')
        if is_work_dir(path):
            found.append(path)
            continue
        children = [osp.join(path, name) for name in sorted(os.listdir(path))]
        children = [c for c in children if osp.isdir(c) and is_work_dir(c)]
        if not children:
            raise BenchmarkError(
                f'{path}: no validation results: it has no '
                '<timestamp>/vis_data logs and no work dir below it')
        found += children
    return found


def _log_files(work_dir: str) -> List[str]:
    """Per run of ``work_dir`` (timestamp order) its scalar log."""
    files = []
    for vis_data in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data'))):
        stamp = osp.basename(osp.dirname(vis_data))
        for name in ('scalars.json', f'{stamp}.json'):
            if osp.isfile(osp.join(vis_data, name)):
                files.append(osp.join(vis_data, name))
                break
    return files


def _is_validation(record: dict) -> bool:
    return 'loss' not in record and any('/' in key for key in record)


def read_val_records(work_dir: str) -> List[dict]:
    """Every validation record of ``work_dir``'s scalar logs, in order
    (a truncated last line, as a killed run leaves, is skipped).

    Raises:
        BenchmarkError: a log line other than the last is not JSON.
    """
    records = []
    for path in _log_files(work_dir):
        with open(path) as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if number == len(lines):
                    continue
                raise BenchmarkError(f'{path}:{number} is not JSON: '
                                     f'{exc}') from exc
            if _is_validation(record):
                records.append(record)
    return records


def best_step(work_dir: str) -> int:
    """The step of the best checkpoint (``best_<key>_iter_<N>.pth``).

    Raises:
        BenchmarkError: no best checkpoint, or several at different steps.
    """
    steps = {}
    for name in sorted(os.listdir(work_dir)):
        match = BEST_CKPT_RE.match(name)
        if match:
            steps[int(match.group(1))] = name
    if not steps:
        raise BenchmarkError(
            f'{work_dir}: --pick best needs a best checkpoint '
            '(best_<metric>_iter_<N>.pth), but there is none: set '
            "default_hooks.checkpoint.save_best (e.g. 'delta_m') or use "
            '--pick last')
    if len(steps) > 1:
        raise BenchmarkError(f'{work_dir}: best checkpoints at several steps '
                             f'({", ".join(steps.values())}); keep one '
                             'save_best key or use --pick last')
    return next(iter(steps))


def pick_record(work_dir: str, records: Sequence[dict],
                pick: str = 'last') -> dict:
    """The last validation record, or (``'best'``) the last one at the
    step of the best checkpoint.

    Raises:
        BenchmarkError: no validation record, or none at the best step.
    """
    if pick not in PICKS:
        raise BenchmarkError(f'pick {pick!r} is not one of {PICKS}')
    if not records:
        raise BenchmarkError(
            f'{work_dir}: no validation results (no validation record in '
            '<timestamp>/vis_data/scalars.json): the training has not '
            'reached a validation, or failed before it')
    if pick == 'last':
        return records[-1]
    step = best_step(work_dir)
    matching = [r for r in records if r.get('step') == step]
    if not matching:
        raise BenchmarkError(f'{work_dir}: the best checkpoint is at step '
                             f'{step}, but no validation record is')
    return matching[-1]


def dumped_config(work_dir: str) -> Config:
    """The config mmengine dumped into the newest run of ``work_dir``.

    Raises:
        BenchmarkError: none was dumped, or it does not load.
    """
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'config.py')))
    if not paths:
        raise BenchmarkError(f'{work_dir}: no dumped config '
                             '(<timestamp>/vis_data/config.py)')
    try:
        return Config.fromfile(paths[-1])
    except Exception as exc:
        raise BenchmarkError(f'{work_dir}: config {paths[-1]} fails to '
                             f'load: {type(exc).__name__}: {exc}') from exc


def count_trainable(cfg: Config, where: str) -> Tuple[Dict[str, int], int]:
    """Trainable parameters of ``cfg.model`` in every convention of
    :data:`CONVENTIONS` and the backbone's total (no weights loaded).

    Raises:
        BenchmarkError: the model fails to build (naming ``where``).
    """
    try:
        model = MODELS.build(cfg.model)
    except Exception as exc:
        raise BenchmarkError(f'{where}: the model of config {cfg.filename} '
                             f'fails to build: {type(exc).__name__}: '
                             f'{exc}') from exc
    reports = {c: param_report(model, c) for c in CONVENTIONS}
    return ({c: r['headline'] for c, r in reports.items()},
            reports['mmmtl']['backbone_total'])


def build_task_metric(cfg: Config, where: str) -> MultiTaskMetric:
    """The config's ``val_evaluator`` (a ``MultiTaskMetric``)."""
    evaluator = cfg.get('val_evaluator')
    try:
        metric = METRICS.build(evaluator) if isinstance(evaluator, dict) \
            else None
    except Exception as exc:
        raise BenchmarkError(f'{where}: val_evaluator fails to build: '
                             f'{type(exc).__name__}: {exc}') from exc
    if not isinstance(metric, MultiTaskMetric):
        raise BenchmarkError(f'{where}: val_evaluator is {evaluator!r}, not '
                             'one MultiTaskMetric')
    return metric


def task_metrics(metrics: Dict[str, float]) -> Dict[str, Dict[str, float]]:
    """``{'semseg/mIoU': v}`` -> ``{'semseg': {'mIoU': v}}``."""
    nested: Dict[str, Dict[str, float]] = {}
    for key, value in metrics.items():
        task, name = key.split('/', 1)
        nested.setdefault(task, {})[name] = value
    return nested


def load_run(work_dir: str, pick: str = 'last') -> RunResult:
    """Metrics and parameter counts of one work dir (see :class:`RunResult`).
    """
    record = pick_record(work_dir, read_val_records(work_dir), pick)
    metrics = {k: v for k, v in record.items() if '/' in k}
    cfg = dumped_config(work_dir)
    metric = build_task_metric(cfg, work_dir)
    per_task = task_metrics(metrics)
    try:
        # MultiTaskMetric's own choice of Δm values and baselines per task.
        values, baselines = metric.delta_m_inputs(per_task)
    except KeyError as exc:
        raise BenchmarkError(f'{work_dir}: the logged metrics do not fit '
                             f'its config: {exc.args[0]}') from exc
    trainable, backbone_total = count_trainable(cfg, work_dir)
    marker = osp.join(work_dir, MARKER)
    info = {}
    if osp.isfile(marker):
        with open(marker) as f:
            info = json.load(f)
    return RunResult(
        work_dir=work_dir,
        method=info.get('method') or osp.basename(osp.normpath(work_dir)),
        task=info.get('task'),
        step=record.get('step'),
        metrics=metrics,
        delta_m=record.get('delta_m'),
        headline={t: metric.delta_m_metric(t) for t in per_task},
        dm_inputs={t: (values[t], baselines[t]) for t in values},
        trainable=trainable,
        backbone_total=backbone_total)


def multi_task_row(run: RunResult) -> Row:
    """The row of one multi-task run: its logged metrics and Δm."""
    return Row(method=run.method, kind='multi-task', work_dirs=[run.work_dir],
               steps=[run.step], trainable=dict(run.trainable),
               backbone_total=run.backbone_total, metrics=dict(run.metrics),
               headline=dict(run.headline), delta_m=run.delta_m)


def single_task_row(method: str, runs: Sequence[RunResult]) -> Row:
    """One row for a method's single-task runs: each task's metrics from
    its own run, trainable parameters summed over the runs, and Δm over
    the tasks (with baselines) from those metrics.

    Raises:
        BenchmarkError: two runs of one task, or a run without metrics of
            its task.
    """
    metrics, headline, values, baselines = {}, {}, {}, {}
    for run in runs:
        task = run.task
        if task in headline:
            raise BenchmarkError(f'two single-task runs of {method!r} train '
                                 f'{task}: collect only one of them '
                                 f'({", ".join(r.work_dir for r in runs)})')
        if task not in run.headline:
            raise BenchmarkError(f'{run.work_dir}: single-task run of '
                                 f'{task}, but it logged no {task} metrics')
        metrics.update({k: v for k, v in run.metrics.items()
                        if k.split('/', 1)[0] == task})
        headline[task] = run.headline[task]
        if task in run.dm_inputs:
            values[task], baselines[task] = run.dm_inputs[task]
    lower = {t: is_lower_better(headline[t]) for t in values}
    return Row(
        method=f'single-task {method}', kind='single-task',
        work_dirs=[r.work_dir for r in runs], steps=[r.step for r in runs],
        trainable={c: sum(r.trainable[c] for r in runs)
                   for c in CONVENTIONS},
        backbone_total=runs[0].backbone_total, metrics=metrics,
        headline=headline,
        delta_m=delta_m(values, baselines, lower) if values else None)


def build_rows(runs: Sequence[RunResult]) -> List[Row]:
    """Rows in the order of the runs; a method's single-task runs merge
    into one row, placed where its first run is."""
    groups: Dict[str, List[RunResult]] = {}
    order: List[Tuple[str, object]] = []
    for run in runs:
        if run.task is None:
            order.append(('multi', run))
            continue
        if run.method not in groups:
            groups[run.method] = []
            order.append(('single', run.method))
        groups[run.method].append(run)
    return [multi_task_row(item) if kind == 'multi' else
            single_task_row(item, groups[item]) for kind, item in order]


def collect(paths: Sequence[str], pick: str = 'last') -> List[Row]:
    """Table rows of the work dirs in (or below) ``paths``."""
    return build_rows([load_run(d, pick) for d in find_work_dirs(paths)])


def table_tasks(rows: Sequence[Row]) -> Dict[str, str]:
    """Task -> headline metric over all rows (first-seen order)."""
    tasks: Dict[str, str] = {}
    for row in rows:
        for task, name in row.headline.items():
            tasks.setdefault(task, name)
    return tasks


def _num(value: Optional[float], fmt: str) -> str:
    return '-' if value is None else format(value, fmt)


def markdown_table(rows: Sequence[Row]) -> str:
    """The table in Markdown: parameters in both conventions, each task's
    headline metric (↑ higher / ↓ lower is better) and Δm, then a legend.
    """
    tasks = table_tasks(rows)
    header = ['method', 'params (M) [mtlora]', '% [mtlora]',
              'params (M) [mmmtl]', '% [mmmtl]']
    header += [f'{t} {n} {"↓" if is_lower_better(n) else "↑"}'
               for t, n in tasks.items()]
    header.append('Δm (%) ↑')
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join([' --- '] + [' ---: '] * (len(header) - 1)) + '|']
    for row in rows:
        cells = [row.method]
        for convention in ('mtlora', 'mmmtl'):
            cells += [f'{row.trainable[convention] / 1e6:.3f}',
                      f'{row.trainable_pct[convention]:.2f}']
        cells += [_num(row.metrics.get(f'{t}/{n}'), '.2f')
                  for t, n in tasks.items()]
        cells.append(_num(row.delta_m, '+.2f'))
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
    totals = sorted({row.backbone_total for row in rows})
    lines.append('% = trainable parameters in % of the backbone ('
                 + (f'{totals[0]:,d} parameters' if len(totals) == 1 else
                    'per row: backbone_total in table.csv') + ').')
    lines += [f'[{c}]: {DESCRIPTIONS[c]}.' for c in ('mtlora', 'mmmtl')]
    return '\n'.join(lines) + '\n'


def csv_rows(rows: Sequence[Row]) -> List[Dict[str, object]]:
    """One flat dict per row: counts, percentages, every metric, Δm."""
    keys: List[str] = []
    for row in rows:
        keys += [k for k in row.metrics if k not in keys]
    flat = []
    for row in rows:
        item: Dict[str, object] = dict(method=row.method, kind=row.kind)
        for convention in CONVENTIONS:
            item[f'trainable_{convention}'] = row.trainable[convention]
            item[f'trainable_{convention}_pct'] = \
                row.trainable_pct[convention]
        item['backbone_total'] = row.backbone_total
        item.update({k: row.metrics.get(k, '') for k in keys})
        item['delta_m'] = '' if row.delta_m is None else row.delta_m
        item['work_dirs'] = ';'.join(row.work_dirs)
        flat.append(item)
    return flat


def plot_delta_m_vs_params(rows: Sequence[Row], path: str,
                           convention: str = 'mtlora'
                           ) -> List[Tuple[str, float, float]]:
    """Δm (%) against trainable parameters (M, log scale), one labelled
    point per row with a Δm; saved as a PNG at ``path``.

    Returns:
        the plotted points ``(method, params in M, Δm)``.
    """
    points = [(r.method, r.trainable[convention] / 1e6, r.delta_m)
              for r in rows
              if r.delta_m is not None and r.trainable[convention] > 0]
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    ax.axhline(0.0, color='grey', linewidth=0.8)
    for method, x, y in points:
        ax.scatter([x], [y], s=30)
        ax.annotate(method, (x, y), textcoords='offset points',
                    xytext=(5, 5), fontsize=8)
    ax.set_xscale('log')
    ax.margins(x=0.25, y=0.15)
    ax.set_xlabel(f'trainable parameters (M, {convention} convention)')
    ax.set_ylabel('Δm (%)')
    ax.grid(True, which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return points


def write_outputs(rows: Sequence[Row], out_dir: str,
                  convention: str = 'mtlora') -> Dict[str, str]:
    """Write :data:`OUTPUT_FILES` into ``out_dir``; return their paths
    (``convention``: the parameter count on the plot's x axis)."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, name) for k, name in OUTPUT_FILES.items()}
    with open(paths['markdown'], 'w') as f:
        f.write(markdown_table(rows))
    flat = csv_rows(rows)
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(flat[0]) if flat else [])
        writer.writeheader()
        writer.writerows(flat)
    with open(paths['json'], 'w') as f:
        json.dump(dict(conventions=DESCRIPTIONS,
                       rows=[asdict(r) for r in rows]), f, indent=2)
    plot_delta_m_vs_params(rows, paths['plot'], convention)
    return paths
