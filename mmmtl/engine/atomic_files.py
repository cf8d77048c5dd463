"""Write files so that they are complete whenever they exist.

A file is written to a hidden temporary name in its final directory
(``.<name>.tmp-<host>-<pid>``), flushed to disk, then renamed over the
final name (``os.replace`` is atomic on POSIX file systems). A process
killed while writing leaves only the temporary file, which
:func:`remove_stale_temp_files` deletes once its writer is gone. A write
that fails (disk full, read-only folder) removes its temporary file and
raises :class:`WriteError`, whose message names the path and what to do.
"""
import errno
import os
import os.path as osp
import re
import tempfile
from typing import List, Optional

from .process_state import pid_is_running, this_host

_TEMP = re.compile(r'^\.(?P<name>.+)\.tmp-(?P<host>.+)-(?P<pid>\d+)$')


#: errnos of a full disk or quota, and of a folder that is not writable
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class WriteError(ValueError):
    """A file of the run (checkpoint, log, config copy) could not be
    written; the message names the path, the system's reason and what to
    do (a ``ValueError``: the tools print it as one line, exit status 2)."""


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``OSError`` of a full disk or of a folder
    that is not writable."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE | NOT_WRITABLE


def write_error(path: Optional[str], exc: OSError,
                what: str = '') -> WriteError:
    """A :class:`WriteError` for the failed write of ``path`` (``None``:
    the ``OSError``'s own file name, if any); ``what`` precedes the path
    (``'to the work dir '``)."""
    path = f'{what}{path or exc.filename or "a file of the run"}'
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in NO_SPACE:
        advice = ('free space on that disk, or choose a --work-dir on a '
                  'disk with room')
    elif exc.errno in NOT_WRITABLE:
        advice = ('choose a writable --work-dir (or make that folder '
                  'writable)')
    else:
        advice = 'check that disk, or choose another --work-dir'
    return WriteError(f'cannot write {path}: {reason}; {advice}')


def remove_quietly(path: str) -> None:
    """Delete ``path`` if it exists (a failed write's temporary file)."""
    try:
        os.remove(path)
    except OSError:
        pass


def check_writable_dir(directory: str) -> None:
    """Create ``directory`` if needed and check that a file can be created
    in it.

    Raises:
        WriteError: naming the folder, the system's reason and what to do.
    """
    try:
        os.makedirs(directory, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix='.write-test-',
                                         dir=directory)
        os.close(handle)
        os.remove(probe)
    except OSError as exc:
        raise write_error(directory, exc, 'to the work dir ') from exc


def temp_name(name: str) -> str:
    """The temporary file name this process writes ``name`` under."""
    return f'.{name}.tmp-{this_host()}-{os.getpid()}'


def commit(temp_path: str, path: str) -> None:
    """Flush the complete file ``temp_path`` to disk and rename it to
    ``path`` (replacing any old ``path`` in one step).

    Raises:
        WriteError: flushing or renaming failed (the temporary file is
            deleted).
    """
    try:
        with open(temp_path, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(temp_path, path)
    except OSError as exc:
        remove_quietly(temp_path)
        raise write_error(path, exc) from exc
    directory = os.open(osp.dirname(osp.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file.

    Raises:
        WriteError: the write failed (the temporary file is deleted).
    """
    temp_path = osp.join(osp.dirname(path), temp_name(osp.basename(path)))
    try:
        with open(temp_path, 'w') as f:
            f.write(text)
    except OSError as exc:
        remove_quietly(temp_path)
        raise write_error(path, exc) from exc
    commit(temp_path, path)


def remove_stale_temp_files(directory: str) -> List[str]:
    """Delete the temporary files in ``directory`` whose writer (a process
    of this host) no longer runs; returns their paths."""
    if not osp.isdir(directory):
        return []
    removed = []
    host = this_host()
    for entry in sorted(os.listdir(directory)):
        match = _TEMP.match(entry)
        if (match is None or match['host'] != host
                or pid_is_running(int(match['pid']))):
            continue
        path = osp.join(directory, entry)
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed
