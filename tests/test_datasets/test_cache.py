"""cached_per_file: a value is reused only while its file is unchanged."""
import json
import os
import time

import pytest

from mmmtl.datasets import cache


@pytest.fixture
def scans(tmp_path, monkeypatch):
    """``run()`` -> values; ``scanned`` lists the files read by each run."""
    files = {name: tmp_path / f'{name}.txt' for name in ('a', 'b')}
    for name, path in files.items():
        path.write_text(name * 4)
    cache_file = tmp_path / 'cache' / 'index.json'
    scanned = []

    def scan(path):
        scanned.append(os.path.basename(path))
        with open(path) as f:
            return f.read()

    def run(delay_s=10.0):
        # scan as if delay_s after now: the files have settled by then
        later = time.time_ns() + int(delay_s * 1e9)
        monkeypatch.setattr(cache, 'time_ns', lambda: later)
        scanned.clear()
        paths = {name: str(path) for name, path in files.items()}
        return cache.cached_per_file(cache_file, paths, scan)

    return files, cache_file, scanned, run


def test_unchanged_files_are_not_read_again(scans):
    files, cache_file, scanned, run = scans
    assert run() == dict(a='aaaa', b='bbbb')
    assert scanned == ['a.txt', 'b.txt']
    content = json.loads(cache_file.read_text())
    assert content['version'] == cache.PER_FILE_CACHE_VERSION
    assert run() == dict(a='aaaa', b='bbbb')
    assert scanned == []


def test_same_size_rewrite_with_restored_mtime_is_seen(scans):
    files, _, scanned, run = scans
    run()
    stat = files['a'].stat()
    time.sleep(0.05)  # past the kernel's timestamp granularity
    files['a'].write_text('zzzz')
    os.utime(files['a'], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert files['a'].stat().st_size == stat.st_size
    assert files['a'].stat().st_mtime_ns == stat.st_mtime_ns
    assert run() == dict(a='zzzz', b='bbbb')
    assert scanned == ['a.txt']


def test_replaced_and_removed_files_are_seen(scans):
    files, _, scanned, run = scans
    run()
    other = files['b'].with_name('new.txt')
    other.write_text('cccc')
    os.replace(other, files['b'])
    assert run() == dict(a='aaaa', b='cccc')
    assert scanned == ['b.txt']
    files['a'].unlink()
    with pytest.raises(FileNotFoundError):
        run()


def test_files_changed_just_before_their_scan_are_read_again(scans):
    _, _, scanned, run = scans
    run(delay_s=0.0)
    run(delay_s=0.0)
    assert scanned == ['a.txt', 'b.txt']  # not settled: read again
    run()
    run()
    assert scanned == []


def test_corrupted_or_old_cache_files_are_rebuilt(scans):
    _, cache_file, scanned, run = scans
    run()
    cache_file.write_text('{not json')
    assert run() == dict(a='aaaa', b='bbbb')
    assert scanned == ['a.txt', 'b.txt']
    cache_file.write_text(json.dumps(dict(stamp={}, data=dict(a=1))))
    assert run() == dict(a='aaaa', b='bbbb')
    assert scanned == ['a.txt', 'b.txt']
