"""Stop a training cleanly on SIGTERM / SIGINT (how slurm and Ctrl-C end
jobs): finish the iteration, save it, release the work dir, exit."""
import os
import os.path as osp
import signal
import sys
import threading
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import BaseLoop

from mmmtl.registry import HOOKS
from ..atomic_files import write_text_atomically
from .work_dir_lock_hook import WorkDirLockHook

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulStop(SystemExit):
    """Training stopped by a signal after saving; ``code`` is
    ``128 + signum`` (143 for SIGTERM, 130 for SIGINT), as a shell reports
    a process killed by that signal."""


@HOOKS.register_module()
class GracefulStopHook(Hook):
    """On SIGTERM or SIGINT during training, stop after the current
    iteration with a complete checkpoint of it.

    The signal handler only records the signal. After the iteration (this
    hook runs last, after the logger and checkpoint hooks), the hook

    1. saves ``iter_<n>.pth`` through the config's checkpoint hook (so
       :class:`AtomicCheckpointHook`'s complete-or-absent writing,
       ``last_checkpoint`` and ``max_keep_ckpts`` apply), unless that hook
       has just saved iteration ``n``;
    2. releases the work dir lock (:class:`WorkDirLockHook`);
    3. logs ``stopped by SIGTERM at iteration <n>; checkpoint <path>;
       resume with --resume`` and raises :class:`GracefulStop`
       (exit status ``128 + signum``).

    A second signal after the first exits at once (status ``128 + signum``,
    no checkpoint; the next run takes over the stale lock and removes any
    half-written temporary file). With several processes the ranks agree
    on stopping after the same iteration (one ``all_reduce`` per
    iteration). Handlers are installed only in the main thread, for the
    duration of the training loop, and the previous ones are restored
    after it. In epoch-based training the checkpoint records the epochs
    completed, so ``--resume`` runs the interrupted epoch again from its
    start (its iterations so far stay in the weights).
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.stopping = False
        self._previous: Dict[int, object] = {}

    # -- handlers ---------------------------------------------------------

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None or self.stopping:
            name = signal.Signals(signum).name
            sys.stderr.write(f'second {name}: exiting now, without saving '
                             'the current iteration\n')
            sys.stderr.flush()
            os._exit(128 + signum)
        self.signum = signum

    def install(self) -> bool:
        """Install the handlers (main thread only); returns whether it
        did."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return True

    def restore(self) -> None:
        """Put back the handlers :meth:`install` replaced."""
        while self._previous:
            signum, handler = self._previous.popitem()
            signal.signal(signum, handler)

    # -- hook -------------------------------------------------------------

    def before_run(self, runner) -> None:
        """Wrap the train loop's ``run`` so that the handlers are
        installed exactly while it runs (restored also when it fails)."""
        loop = getattr(runner, '_train_loop', None)
        if not isinstance(loop, BaseLoop) or '_graceful_run' in vars(loop):
            return
        run = loop.run

        def guarded_run(*args, **kwargs):
            self.signum, self.stopping = None, False
            installed = self.install()
            if not installed:
                runner.logger.warning(
                    'GracefulStopHook: not in the main thread, so SIGTERM '
                    'and SIGINT keep their handlers')
            try:
                return run(*args, **kwargs)
            finally:
                self.restore()

        loop.run = guarded_run
        loop._graceful_run = True

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        signum = self.signum or 0
        if get_world_size() > 1:
            flag = torch.tensor([signum], dtype=torch.int64)
            all_reduce(flag, op='max')
            signum = int(flag.item())
        if signum:
            self.stop(runner, signum)

    def stop(self, runner, signum: int) -> None:
        """Save iteration ``runner.iter + 1``, release the lock, log the
        line and raise :class:`GracefulStop`."""
        self.stopping = True
        step = runner.iter + 1
        path = save_stop_checkpoint(runner, step)
        for hook in runner.hooks:
            if isinstance(hook, WorkDirLockHook) and hook.lock is not None:
                hook.lock.release()
        name = signal.Signals(signum).name
        runner.logger.warning(f'stopped by {name} at iteration {step}; '
                              f'checkpoint {path}; resume with --resume')
        self.restore()
        raise GracefulStop(128 + signum)


def save_stop_checkpoint(runner, step: int) -> str:
    """The checkpoint of iteration ``step`` (1-based), written now unless
    the checkpoint hook has just written it; returns its path."""
    hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                None)
    name = f'iter_{step}.pth'
    if hook is None or hook.last_ckpt != hook.file_backend.join_path(
            hook.out_dir, name):
        runner.logger.info(f'Saving checkpoint at {step} iterations')
    if hook is None:
        runner.save_checkpoint(runner.work_dir, name, by_epoch=False)
        path = osp.join(runner.work_dir, name)
        if is_main_process():
            write_text_atomically(
                osp.join(runner.work_dir, 'last_checkpoint'), path)
        return path
    if not hook.by_epoch and hook.filename_tmpl == 'iter_{}.pth':
        path = hook.file_backend.join_path(hook.out_dir, name)
        if hook.last_ckpt != path:
            hook._save_checkpoint(runner)  # the hook's own save
        return hook.last_ckpt
    # an epoch-based hook would name it epoch_<e + 1>.pth: a separate file
    kwargs = dict(save_optimizer=hook.save_optimizer,
                  save_param_scheduler=hook.save_param_scheduler,
                  by_epoch=False, **hook.args)
    if hasattr(hook, '_write'):  # AtomicCheckpointHook
        hook._write(runner, name, **kwargs)
    else:
        runner.save_checkpoint(hook.out_dir, name,
                               backend_args=hook.backend_args, **kwargs)
    path = hook.file_backend.join_path(hook.out_dir, name)
    if is_main_process():
        write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                              path)
    runner.message_hub.update_info('last_ckpt', path)
    return path
