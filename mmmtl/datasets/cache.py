"""User cache directory for derived data (never inside a data root)."""
import hashlib
import json
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Callable, Dict

CACHE_ENV = 'MMMTL_CACHE_DIR'


def user_cache_dir() -> Path:
    """``$MMMTL_CACHE_DIR`` if set, else ``~/.cache/mmmtl``."""
    root = os.environ.get(CACHE_ENV) or osp.join(osp.expanduser('~'), '.cache',
                                                 'mmmtl')
    return Path(root)


def cache_key(*parts: object) -> str:
    """Short stable hash of ``parts`` (their ``repr``), for file names."""
    text = '\n'.join(repr(p) for p in parts)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


def path_stamp(path: str) -> list:
    """``[mtime_ns, size]`` of ``path`` or ``None`` when it does not exist.

    For a directory, the size is its number of entries (adding or removing
    a file changes the stamp).
    """
    if not osp.exists(path):
        return None
    stat = os.stat(path)
    size = len(os.listdir(path)) if osp.isdir(path) else stat.st_size
    return [stat.st_mtime_ns, size]


def write_json_atomic(path: Path, content: dict) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), suffix='.tmp')
    with os.fdopen(fd, 'w') as f:
        json.dump(content, f)
    os.replace(tmp, path)


def cached_json(path: Path, stamp: dict,
                build: Callable[[], Dict]) -> Dict:
    """Return the cached ``data`` at ``path`` if its stamp equals ``stamp``.

    Otherwise call ``build()``, store ``dict(stamp=stamp, data=...)`` at
    ``path`` and return the new data. Unreadable cache files are rebuilt.
    """
    if path.is_file():
        try:
            with open(path) as f:
                content = json.load(f)
            if content.get('stamp') == stamp:
                return content['data']
        except (OSError, ValueError, KeyError):
            pass
    data = build()
    write_json_atomic(path, dict(stamp=stamp, data=data))
    return data
