"""The analysis package loads in any import order and keeps the benchmark
runner (subprocess training, slurm scripts, matplotlib plots) out of the
library's import path.

``mmmtl.models.adapters`` imports ``mmmtl.analysis.counting`` while
``mmmtl.analysis.flops`` needs ``AdaptedBackbone`` from
``mmmtl.models.adapters``: each fresh process imports one of them first.
"""
import subprocess
import sys

import pytest

from repo_files import REPO

CHECK = """
import sys

import {first}
import mmmtl.analysis
import mmmtl.models.adapters
import mmmtl.utils

assert (mmmtl.models.adapters.param_report is
        mmmtl.analysis.counting.param_report)
assert mmmtl.analysis.flops.AdaptedBackbone is (
    mmmtl.models.adapters.AdaptedBackbone)
heavy = [name for name in ('matplotlib', 'mmmtl.analysis.benchmark_table',
                           'mmmtl.apis') if name in sys.modules]
assert not heavy, heavy
print('ok')
"""


@pytest.mark.parametrize('first', [
    'mmmtl.utils', 'mmmtl.analysis', 'mmmtl.analysis.flops', 'mmmtl.models',
    'mmmtl.engine'
])
def test_import_order_and_no_benchmark_code(first):
    proc = subprocess.run(
        [sys.executable, '-c', CHECK.format(first=first)], cwd=REPO,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert proc.stdout.strip() == 'ok'


def test_benchmark_table_imports_first():
    proc = subprocess.run(
        [sys.executable, '-c', 'import mmmtl.analysis.benchmark_table'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
