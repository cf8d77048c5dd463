"""User cache directory for derived data (never inside a data root)."""
import hashlib
import json
import os
import os.path as osp
import tempfile
from pathlib import Path
from time import time_ns
from typing import Any, Callable, Dict, Optional

CACHE_ENV = 'MMMTL_CACHE_DIR'
#: format version of the per-file caches written by :func:`cached_per_file`.
PER_FILE_CACHE_VERSION = 2
#: a file changed less than this before it was scanned is scanned again
#: (file timestamps are coarse: a later write in the same clock tick could
#: leave every stamp field unchanged).
SETTLE_NS = 2 * 10**9

Stamp = Optional[list]


def user_cache_dir() -> Path:
    """``$MMMTL_CACHE_DIR`` if set, else ``~/.cache/mmmtl``."""
    root = os.environ.get(CACHE_ENV) or osp.join(osp.expanduser('~'), '.cache',
                                                 'mmmtl')
    return Path(root)


def cache_key(*parts: object) -> str:
    """Short stable hash of ``parts`` (their ``repr``), for file names."""
    text = '\n'.join(repr(p) for p in parts)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


def file_stamp(path: str) -> Stamp:
    """``[size, mtime_ns, ctime_ns, inode]`` of ``path``; None if missing.

    Any write to the file changes its ctime, which (unlike the mtime)
    cannot be set back by tools that preserve timestamps (``cp -p``,
    ``rsync -t``, ``touch -r``); replacing the file changes its inode.
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def write_json_atomic(path: Path, content: dict) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), suffix='.tmp')
    with os.fdopen(fd, 'w') as f:
        json.dump(content, f)
    os.replace(tmp, path)


def _read_entries(path: Path) -> Dict[str, dict]:
    """The per-file entries cached at ``path``; {} when absent, unreadable
    or of another format version."""
    try:
        with open(path) as f:
            content = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or \
            content.get('version') != PER_FILE_CACHE_VERSION:
        return {}
    return content.get('files', {})


def _still_valid(entry: Optional[dict], stamp: Stamp) -> bool:
    """Whether a cached entry describes the file as it is now: same stamp,
    and the file had settled (last change ``SETTLE_NS`` before the scan)."""
    if entry is None or entry.get('stamp') != stamp:
        return False
    if stamp is None:
        return True
    last_change = max(stamp[1], stamp[2])
    return last_change + SETTLE_NS < entry['scanned_ns']


def cached_per_file(cache_path: Path, paths: Dict[str, str],
                    scan: Callable[[str], Any]) -> Dict[str, Any]:
    """``{key: scan(path)}`` for ``paths`` (``{key: file path}``), reusing
    the values cached at ``cache_path`` for files that did not change.

    Each file's value is stored with its :func:`file_stamp` and the time of
    its scan. A value is reused only when the file's stamp is unchanged
    and the file was last changed more than ``SETTLE_NS`` before its scan;
    otherwise (new, changed, replaced, removed or just-written file) the
    file is scanned again. The cache is rewritten (atomically) when any
    entry changed. Values must be JSON-serialisable.
    """
    old = _read_entries(cache_path)
    entries: Dict[str, dict] = {}
    for key, path in paths.items():
        stamp = file_stamp(path)
        if _still_valid(old.get(key), stamp):
            entries[key] = old[key]
            continue
        scanned_ns = time_ns()
        entries[key] = dict(stamp=stamp, scanned_ns=scanned_ns,
                            value=scan(path))
    if entries != old:
        write_json_atomic(cache_path, dict(version=PER_FILE_CACHE_VERSION,
                                           files=entries))
    return {key: entry['value'] for key, entry in entries.items()}
