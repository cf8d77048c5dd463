"""mmengine's Runner with checkpoint loading that runs no code and refuses
weights that are not the model's.

:class:`MultiTaskRunner` (``runner_type = 'MultiTaskRunner'``, set in
``configs/_base_/default_runtime.py``; :func:`build_runner` defaults to it)
loads every checkpoint -- ``load_from``, ``resume`` and
``init_cfg=dict(type='Pretrained', ...)`` -- inside
:func:`mmmtl.compat.checkpoint_loading`, and checks ``load_from`` and
``resume`` checkpoints against the model before copying them
(:mod:`mmmtl.engine.checkpoint_check`). The config key ``unsafe_load = True``
(``--unsafe-load`` in the tools) opts in to full unpickling of trusted files.
Adapter-only checkpoints (:mod:`mmmtl.engine.adapter_checkpoint`) are loaded
over the model initialised with its pretrained base weights.
"""
import contextlib
import copy
import logging
import os.path as osp
import sys
from typing import Callable, Iterator, Union

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

from mmmtl.compat.checkpoint import checkpoint_loading
from mmmtl.registry import RUNNERS
from .adapter_checkpoint import is_adapter_checkpoint, load_adapter_checkpoint
from .atomic_files import (NOT_WRITABLE, check_writable_dir,
                           is_write_failure, remove_quietly, write_error)
from .checkpoint_check import check_checkpoint_fits, check_resumable
from .hooks.work_dir_lock_hook import WorkDirLock

DEFAULT_RUNNER = 'MultiTaskRunner'
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def fill_dataset_tasks(cfg: Config) -> None:
    """Give every dataloader whose dataset leaves ``tasks`` None the model's
    tasks (``model.task_names`` if set, else the keys of ``model.tasks``),
    so that a config names its tasks once and the datasets load only those
    annotations."""
    model = cfg.get('model') or {}
    tasks = model.get('task_names') or model.get('tasks')
    if not tasks:
        return
    if isinstance(tasks, str):
        tasks = (tasks, )
    for key in DATALOADERS:
        dataset = (cfg.get(key) or {}).get('dataset')
        if dataset is not None and dataset.get('tasks') is None:
            dataset['tasks'] = tuple(tasks)


@RUNNERS.register_module()
class MultiTaskRunner(Runner):
    """A Runner whose checkpoint loading is safe and checked.

    - Every checkpoint is unpickled weights only, with the types mmengine
      saves allowed; other files fail with one error naming the file (and
      the refused type), unless the config sets ``unsafe_load = True``.
    - ``load_from`` and ``resume`` checkpoints must hold the model's
      weights (:func:`check_checkpoint_fits`); ``resume`` ones also the
      training state (:func:`check_resumable`).
    - Adapter-only checkpoints are loaded over the model initialised as
      usual (``init_weights`` first also in ``test``/``val``, which
      mmengine runs without it), after checking their keys and the
      fingerprint of the frozen base weights
      (:func:`~mmmtl.engine.adapter_checkpoint.load_adapter_checkpoint`).
    - Datasets that leave ``tasks`` None load the model's tasks
      (:func:`fill_dataset_tasks`).
    - ``meta['config']`` of a checkpoint is dropped before mmengine's
      ``resume`` would execute it as a Python config.
    - The config is not copied into a work dir that a live training holds
      (``WorkDirLockHook`` then refuses this run's training), so that the
      copy stays the running one's.
    - Writes that fail for lack of space or permission (the work dir, the
      log file, checkpoints, ``scalars.json``) stop the run with one
      :class:`~mmmtl.engine.atomic_files.WriteError` naming the path and
      what to do, instead of an ``OSError`` traceback (or, for the log,
      logging's traceback on every line while training goes on).
    """

    _resuming = False

    def __init__(self, model, work_dir: str, *args, **kwargs) -> None:
        check_writable_dir(work_dir)
        self._work_dir = osp.abspath(work_dir)  # for the error messages
        with self._write_failures_explained():
            super().__init__(model, work_dir, *args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'MultiTaskRunner':
        """mmengine's ``from_cfg`` after :func:`fill_dataset_tasks` (on a
        copy of ``cfg``)."""
        cfg = copy.deepcopy(cfg)
        fill_dataset_tasks(cfg)
        return super().from_cfg(cfg)

    def build_logger(self, *args, **kwargs):
        """mmengine's logger, whose log file handlers raise a
        :class:`WriteError` when the file cannot be written."""
        logger = super().build_logger(*args, **kwargs)
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler) and not getattr(
                    handler, '_mmmtl_write_checked', False):
                handler.handleError = _write_checked_handle_error(handler)
                handler._mmmtl_write_checked = True
        return logger

    @contextlib.contextmanager
    def _write_failures_explained(self) -> Iterator[None]:
        """Turn an ``OSError`` of a full disk or unwritable folder into a
        :class:`WriteError` (the file it names, else the work dir)."""
        try:
            yield
        except OSError as exc:
            if not is_write_failure(exc) or (
                    exc.errno in NOT_WRITABLE and exc.filename
                    and not _inside(str(exc.filename), self._work_dir)):
                raise  # e.g. an unreadable data file: not a write failure
            if exc.filename:
                raise write_error(None, exc) from exc
            raise write_error(self.work_dir, exc,
                              'a file in the work dir ') from exc

    def train(self):
        with self._write_failures_explained():
            return super().train()

    def val(self):
        with self._write_failures_explained():
            return super().val()

    def test(self):
        with self._write_failures_explained():
            return super().test()

    def scale_lr(self, optim_wrapper, auto_scale_lr=None) -> None:
        """mmengine's LR scaling (``--auto-scale-lr``), then log the
        learning rates it set (mmengine logs only the factor)."""
        super().scale_lr(optim_wrapper, auto_scale_lr)
        if not (auto_scale_lr and auto_scale_lr.get('enable', False)):
            return
        wrappers = (optim_wrapper.values() if hasattr(optim_wrapper, 'values')
                    else [optim_wrapper])
        rates = sorted({group['lr'] for wrapper in wrappers
                        for group in wrapper.optimizer.param_groups})
        self.logger.info('Learning rate after --auto-scale-lr: ' +
                         ', '.join(f'{lr:.6g}' for lr in rates))

    @property
    def unsafe_load(self) -> bool:
        """Whether the config opts in to fully unpickling checkpoints."""
        return bool(self.cfg.get('unsafe_load', False))

    def dump_config(self) -> None:
        """mmengine's config copy, unless a live run holds the work dir."""
        owner = WorkDirLock(self.work_dir).live_owner()
        if owner is not None:
            self.logger.warning(
                f'not copying the config into {self.work_dir}: pid '
                f"{owner.get('pid')} on {owner.get('host')} holds it")
            return
        name = osp.basename(self.cfg.filename) if self.cfg.filename \
            else f'{self.timestamp}.py'
        path = osp.join(self.work_dir, name)
        try:
            super().dump_config()
        except OSError as exc:
            remove_quietly(path)  # no partial copy of the config
            raise write_error(path, exc, 'the config copy ') from exc

    def _init_model_weights(self) -> None:
        """Initialise weights with ``Pretrained`` checkpoints loaded safely."""
        with checkpoint_loading(unsafe=self.unsafe_load):
            super()._init_model_weights()

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's ``resume``, refusing checkpoints without training
        state before any of it is applied."""
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """Load ``filename`` into the model, as mmengine does, after checking
        that it is readable without running code and fits the model.

        An adapter-only file is loaded over the initialised model (the
        model is initialised first if it was not, as in ``test``).

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: (subclasses) the file is unreadable or refused, or
                does not hold the model's weights, or (adapter-only) was
                trained on other base weights, naming the file.
        """
        with checkpoint_loading(unsafe=self.unsafe_load):
            checkpoint = _load_checkpoint(filename, map_location=map_location)
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        adapter_only = is_adapter_checkpoint(checkpoint)
        check_checkpoint_fits(model, checkpoint, filename, revise_keys)
        if self._resuming:
            check_resumable(checkpoint, filename)
        if adapter_only and not getattr(model, 'is_init', True):
            self._init_model_weights()
        meta = checkpoint.get('meta')
        if isinstance(meta, dict) and meta.pop('config', None) is not None:
            self.logger.warning(
                f"ignored meta['config'] of {filename}: mmengine would run "
                'it as Python code')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        if adapter_only:
            load_adapter_checkpoint(model, checkpoint, filename, revise_keys)
        else:
            checkpoint = _load_checkpoint_to_model(
                model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


def _inside(path: str, directory: str) -> bool:
    """Whether ``path`` lies in ``directory`` (or is it)."""
    path, directory = osp.abspath(path), osp.abspath(directory)
    return path == directory or path.startswith(directory + osp.sep)


def _write_checked_handle_error(handler: logging.FileHandler) -> Callable:
    """``handler.handleError`` that raises a :class:`WriteError` (once)
    when the log file cannot be written; logging's own ``handleError``
    prints a traceback for every record and goes on."""
    original = handler.handleError
    raised = []

    def handle_error(record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            return original(record)
        if raised:  # already stopping the run: drop further records
            return None
        raised.append(exc)
        raise write_error(handler.baseFilename, exc,
                          'the log file ') from exc

    return handle_error


def build_runner(cfg: Config) -> Runner:
    """Build the runner of ``cfg``: its ``runner_type`` when set (as
    mmsegmentation's tools do), else :class:`MultiTaskRunner`."""
    if 'runner_type' not in cfg:
        cfg.runner_type = DEFAULT_RUNNER
    return RUNNERS.build(cfg)
