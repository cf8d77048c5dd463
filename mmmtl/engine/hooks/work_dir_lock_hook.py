"""One training run per work dir: the lock file ``<work_dir>/.lock``."""
import atexit
import json
import logging
import os
import os.path as osp
import shutil
import time
import uuid
from typing import Optional, Tuple

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook

from mmmtl.registry import HOOKS
from ..process_state import pid_is_running, this_host

LOCK_NAME = '.lock'


class WorkDirLockedError(ValueError):
    """Another run holds the work dir (a ``ValueError``: the tools print
    it as one line and exit with status 2). ``owner``: the lock file's
    content, when it could be read."""

    def __init__(self, message: str, owner: Optional[dict] = None) -> None:
        super().__init__(message)
        self.owner = owner


class WorkDirLock:
    """The exclusive lock file ``<work_dir>/.lock``.

    It is created atomically (``O_CREAT | O_EXCL``) and holds the owner's
    pid, host, start time and a random token as JSON. A lock whose owner
    pid no longer runs on this host is stale and is taken over; a lock of
    another host is never taken over, since its pid cannot be checked from
    here. A process that exits without :meth:`release` (an exception)
    releases it at exit; after a SIGKILL the lock is stale.

    ``log_dir``: the owner's ``<work_dir>/<timestamp>`` log dir, recorded
    so that a refused run knows whether it shares that dir (two runs
    started in the same second) before it removes its own.
    """

    def __init__(self, work_dir: str, log_dir: Optional[str] = None) -> None:
        self.path = osp.join(work_dir, LOCK_NAME)
        self.owner = dict(pid=os.getpid(), host=this_host(),
                          started=time.strftime('%Y-%m-%d %H:%M:%S'),
                          token=uuid.uuid4().hex)
        if log_dir is not None:
            self.owner['log_dir'] = osp.abspath(log_dir)
        self.held = False

    def acquire(self, attempts: int = 10) -> Optional[dict]:
        """Create the lock file; returns the owner of the stale lock it
        replaced, if any.

        Raises:
            WorkDirLockedError: a live run holds the lock, or the lock file
                stays unreadable.
        """
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        stale = None
        for _ in range(attempts):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                             0o644)
            except FileExistsError:
                owner, raw = self._read()
                if raw is None:  # released meanwhile
                    continue
                if owner is None:  # being written by its creator
                    time.sleep(0.1)
                    continue
                if not self._is_stale(owner):
                    raise WorkDirLockedError(self._locked_message(owner),
                                             owner)
                if self._remove_if_unchanged(raw):
                    stale = owner
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(self.owner, f)
            self.held = True
            atexit.register(self.release)
            return stale
        raise WorkDirLockedError(
            f'could not lock the work dir: the lock file {self.path} is '
            'unreadable or keeps changing; delete it if no run uses this '
            'work dir')

    def live_owner(self) -> Optional[dict]:
        """The owner of the lock file if a live run holds it, else None."""
        owner, _ = self._read()
        if owner is None or self._is_stale(owner):
            return None
        return owner

    def release(self) -> None:
        """Delete the lock file if this object still holds it."""
        if not self.held:
            return
        self.held = False
        atexit.unregister(self.release)
        owner, _ = self._read()
        if owner is not None and owner.get('token') == self.owner['token']:
            os.remove(self.path)

    def _read(self) -> Tuple[Optional[dict], Optional[str]]:
        """(owner dict, or None if it is not JSON with an integer pid; raw
        text, or None if the file does not exist)."""
        try:
            with open(self.path) as f:
                raw = f.read()
        except FileNotFoundError:
            return None, None
        try:
            owner = json.loads(raw)
        except ValueError:
            return None, raw
        valid = isinstance(owner, dict) and isinstance(owner.get('pid'), int)
        return (owner if valid else None), raw

    def _is_stale(self, owner: dict) -> bool:
        """Same host, and the owner no longer runs (or is this very
        process, whose earlier run ended without releasing it)."""
        if owner.get('host') != self.owner['host']:
            return False
        pid = owner['pid']
        return pid == os.getpid() or not pid_is_running(pid)

    def _remove_if_unchanged(self, raw: str) -> bool:
        """Remove the stale lock whose content is ``raw``; if another
        process replaced it meanwhile, put that lock back. Returns whether
        the stale lock was removed."""
        grave = f'{self.path}.stale-{self.owner["token"]}'
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return False
        with open(grave) as f:
            unchanged = f.read() == raw
        if not unchanged:
            os.link(grave, self.path)
        os.remove(grave)
        return unchanged

    def _locked_message(self, owner: dict) -> str:
        where = 'this host' if owner.get('host') == self.owner['host'] \
            else f"host {owner.get('host')}"
        return (f"work dir {osp.dirname(self.path)} is used by another "
                f"training run: pid {owner.get('pid')} on {where} (started "
                f"{owner.get('started')}) holds the lock file {self.path}. "
                'Wait for it to finish or pass another --work-dir; delete '
                'the lock file only if that run is gone')


def check_work_dir_free(work_dir: str) -> None:
    """Refuse a training on ``work_dir`` while a live run holds it, before
    anything is written there (``tools/train.py`` calls this before it
    builds the runner, which creates the ``<timestamp>`` log dir).

    Raises:
        WorkDirLockedError: as :meth:`WorkDirLock.acquire` would.
    """
    lock = WorkDirLock(work_dir)
    owner = lock.live_owner()
    if owner is not None:
        raise WorkDirLockedError(lock._locked_message(owner), owner)


def remove_refused_log_dir(runner, owner: Optional[dict]) -> bool:
    """Remove the ``<work_dir>/<timestamp>`` log dir of a refused run
    (its log file and config copy), unless the lock's ``owner`` logs into
    the same dir (both started in the same second). Returns whether it
    was removed."""
    if getattr(runner, 'log_dir', None) is None:
        return False
    log_dir = osp.abspath(runner.log_dir)
    if osp.dirname(log_dir) != osp.abspath(runner.work_dir) or \
            not osp.isdir(log_dir):
        return False
    if owner is not None and owner.get('log_dir') == log_dir:
        return False
    logger = getattr(runner, 'logger', None)
    for handler in list(getattr(logger, 'handlers', [])):
        if isinstance(handler, logging.FileHandler) and \
                osp.dirname(osp.abspath(handler.baseFilename)) == log_dir:
            handler.close()
            logger.removeHandler(handler)
    shutil.rmtree(log_dir, ignore_errors=True)
    return True


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Hold :class:`WorkDirLock` on the work dir while a training runs.

    Rank 0 takes the lock before any other hook's ``before_train`` (so
    before checkpoints are rotated or written) and every rank stops with
    :class:`WorkDirLockedError` when it is refused; a refused run removes
    the ``<timestamp>`` log dir it created (:func:`remove_refused_log_dir`),
    so it leaves nothing in the work dir. The lock is released in
    ``after_run``, or at process exit when training fails. Test and
    validation runs do not take it.
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self.lock: Optional[WorkDirLock] = None

    def before_train(self, runner) -> None:
        error = [None]
        if is_main_process():
            log_dir = getattr(runner, 'log_dir', None)
            self.lock = WorkDirLock(runner.work_dir, log_dir=log_dir)
            try:
                stale = self.lock.acquire()
            except WorkDirLockedError as exc:
                error = [str(exc)]
                remove_refused_log_dir(runner, exc.owner)
            else:
                if stale is not None:
                    runner.logger.warning(
                        f'Took over the stale lock {self.lock.path} of pid '
                        f"{stale.get('pid')} (started "
                        f"{stale.get('started')}), which no longer runs.")
        broadcast_object_list(error)  # a no-op when not distributed
        if error[0] is not None:
            raise WorkDirLockedError(error[0])

    def after_run(self, runner) -> None:
        if self.lock is not None:
            self.lock.release()
