"""Write files so that they are complete whenever they exist.

A file is written to a hidden temporary name in its final directory
(``.<name>.tmp-<host>-<pid>``), flushed to disk, then renamed over the
final name (``os.replace`` is atomic on POSIX file systems). A process
killed while writing leaves only the temporary file, which
:func:`remove_stale_temp_files` deletes once its writer is gone.
"""
import os
import os.path as osp
import re
from typing import List

from .process_state import pid_is_running, this_host

_TEMP = re.compile(r'^\.(?P<name>.+)\.tmp-(?P<host>.+)-(?P<pid>\d+)$')


def temp_name(name: str) -> str:
    """The temporary file name this process writes ``name`` under."""
    return f'.{name}.tmp-{this_host()}-{os.getpid()}'


def commit(temp_path: str, path: str) -> None:
    """Flush the complete file ``temp_path`` to disk and rename it to
    ``path`` (replacing any old ``path`` in one step)."""
    with open(temp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(temp_path, path)
    directory = os.open(osp.dirname(osp.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file."""
    temp_path = osp.join(osp.dirname(path), temp_name(osp.basename(path)))
    with open(temp_path, 'w') as f:
        f.write(text)
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
