"""``CheckpointHook`` whose checkpoints are complete whenever they exist."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook

from mmmtl.registry import HOOKS
from ..adapter_checkpoint import make_adapter_only
from ..atomic_files import (commit, remove_quietly, remove_stale_temp_files,
                            temp_name, write_error, write_text_atomically)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), made kill-safe.

    * Every checkpoint (periodic and best) is written to a temporary file
      in its directory and renamed into place once complete, and
      ``<work_dir>/last_checkpoint`` is replaced the same way after it, so
      it always names a complete checkpoint and ``--resume`` picks the
      newest complete one.
    * Older checkpoints (those beyond ``max_keep_ckpts`` and the previous
      best) are deleted only after the new checkpoint and
      ``last_checkpoint`` are in place: a kill at any moment leaves a
      resumable work dir, also with ``max_keep_ckpts=1``.
    * A save that fails (disk full, read-only folder, any error) deletes
      its temporary file; an ``OSError`` becomes a
      :class:`~mmmtl.engine.atomic_files.WriteError` naming the checkpoint
      and what to do.
    * ``before_train`` deletes temporary files left by killed runs.

    Checkpoints go to a local directory (``out_dir``, or the work dir),
    chosen with ``backend_args`` (not the deprecated ``file_client_args``);
    use ``CheckpointHook`` for other storage backends.

    Args:
        adapter_only: save adapter-only checkpoints
            (:mod:`mmmtl.engine.adapter_checkpoint`): the model state holds
            only the trained entries, plus the fingerprint of the frozen
            base and the config text; optimizer, schedulers and message hub
            are saved as usual, so ``--resume`` works. Loading needs the
            config's pretrained backbone. Default: full checkpoints.
        *args, **kwargs: ``CheckpointHook``'s arguments.
    """

    def __init__(self, *args, adapter_only: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.adapter_only = adapter_only
        self._writing = False

    def before_train(self, runner) -> None:
        out_dir = self.out_dir or runner.work_dir
        backend = get_file_backend(out_dir, backend_args=self.backend_args)
        if self.file_client_args is not None or not isinstance(
                backend, LocalBackend):
            raise ValueError(
                f'AtomicCheckpointHook writes to a local directory (set by '
                f'out_dir and backend_args), but {out_dir} uses '
                f'{type(backend).__name__} and file_client_args is '
                f"{self.file_client_args}; set default_hooks.checkpoint."
                "type='CheckpointHook' for other storage")
        super().before_train(runner)
        if not is_main_process():
            return
        for directory in sorted({self.out_dir, runner.work_dir}):
            for path in remove_stale_temp_files(directory):
                runner.logger.info(f'Removed {path}, a file that a killed '
                                   'run did not finish writing.')

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        """Save checkpoint ``step``; then drop the one beyond
        ``max_keep_ckpts``."""
        dropped = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids[0]
            self.keep_ckpt_ids.append(step)  # a full deque drops [0]
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write(runner, filename, save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler,
                    meta=meta, by_epoch=self.by_epoch, **self.args)
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                              self.last_ckpt)
        if dropped is not None:
            self._remove(runner, self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(dropped)))

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """mmengine's best-checkpoint logic; the previous best is deleted
        after the new best and the periodic checkpoint that records it
        are written."""
        if not self.save_best:
            return
        unit, step = ('epoch', runner.epoch) if self.by_epoch else \
            ('iter', runner.iter)
        filename = self.filename_tmpl.format(step)
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [next(iter(metrics))])
        single = len(self.key_indicators) == 1
        updated, old_paths = False, []
        for key, rule in zip(self.key_indicators, self.rules):
            score_key = 'best_score' if single else f'best_score_{key}'
            path_key = 'best_ckpt' if single else f'best_ckpt_{key}'
            best = runner.message_hub.get_info(score_key,
                                               self.init_value_map[rule])
            score = metrics[key]
            if score is None or not self.is_better_than[key](score, best):
                continue
            updated = True
            runner.message_hub.update_info(score_key, score)
            name = f'best_{key}_{filename}'.replace('/', '_')
            path = self.file_backend.join_path(self.out_dir, name)
            if single:
                old_paths.append(self.best_ckpt_path)
                self.best_ckpt_path = path
            else:
                old_paths.append(self.best_ckpt_path_dict[key])
                self.best_ckpt_path_dict[key] = path
            runner.message_hub.update_info(path_key, path)
            self._write(runner, name, save_optimizer=False,
                        save_param_scheduler=False, meta=meta,
                        by_epoch=False)
            runner.logger.info(
                f'The best checkpoint with {score:0.4f} {key} at {step} '
                f'{unit} is saved to {name}.')
        if not updated:
            return
        # the periodic checkpoint must record the new best for resuming
        if self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, step, meta)
        if not is_main_process():
            return
        current = {self.best_ckpt_path} if single else set(
            self.best_ckpt_path_dict.values())
        for path in old_paths:
            if path is not None and path not in current:
                self._remove(runner, path)

    def _write(self, runner, filename: str, **kwargs) -> None:
        """``runner.save_checkpoint`` to a temporary file, renamed to
        ``filename`` in ``out_dir`` once complete.

        Raises:
            WriteError: writing failed (disk full, read-only folder, ...);
                the temporary file is deleted.
        """
        temp = temp_name(filename)
        temp_path = osp.join(self.out_dir, temp)
        self._writing = True
        try:
            runner.save_checkpoint(self.out_dir, temp,
                                   backend_args=self.backend_args, **kwargs)
        except BaseException as exc:
            if is_main_process():
                remove_quietly(temp_path)
            if isinstance(exc, OSError):
                raise write_error(osp.join(self.out_dir, filename),
                                  exc) from exc
            raise
        finally:
            self._writing = False
        if is_main_process():
            commit(osp.join(self.out_dir, temp),
                   osp.join(self.out_dir, filename))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """With ``adapter_only``, reduce the checkpoint this hook is saving
        to the trained entries (this hook has the lowest priority, so the
        other hooks have edited the checkpoint already); the config text is
        the one mmengine put in ``meta['cfg']``."""
        if self.adapter_only and self._writing:
            make_adapter_only(checkpoint, runner.model,
                              checkpoint.get('meta', {}).get('cfg'))

    @staticmethod
    def _remove(runner, path: str) -> None:
        """Delete the checkpoint file ``path`` if it exists."""
        if osp.isfile(path):
            os.remove(path)
            runner.logger.info(f'Removed the old checkpoint {path}.')
