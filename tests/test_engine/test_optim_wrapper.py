"""``AutocastOptimWrapper`` is registered by ``mmmtl.engine``: a dumped config
naming it builds without importing ``mmmtl.apis``."""
import subprocess
import sys

import torch
from torch import nn

from repo_files import REPO

BUILD = """
import sys

import torch
from mmengine.registry import init_default_scope

{setup}
from mmmtl.registry import OPTIM_WRAPPERS

init_default_scope('mmmtl')
layer = torch.nn.Linear(4, 3)
wrapper = OPTIM_WRAPPERS.build(dict(
    type='AutocastOptimWrapper', dtype='bfloat16',
    optimizer=torch.optim.SGD(layer.parameters(), lr=0.1)))
assert type(wrapper).__name__ == 'AutocastOptimWrapper', type(wrapper)
assert 'mmmtl.apis' not in sys.modules, 'mmmtl.apis was imported'
with wrapper.optim_context(layer):
    assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
print('built', type(wrapper).__module__)
"""


def build_in_fresh_process(setup: str) -> str:
    proc = subprocess.run(
        [sys.executable, '-c', BUILD.format(setup=setup)], cwd=REPO,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def test_importing_the_engine_registers_the_autocast_wrapper():
    out = build_in_fresh_process('import mmmtl.engine  # noqa: F401')
    assert 'built mmmtl.engine.optim_wrapper' in out


def test_register_all_modules_registers_the_autocast_wrapper():
    out = build_in_fresh_process(
        'from mmmtl.utils import register_all_modules\n'
        'register_all_modules()')
    assert 'built mmmtl.engine.optim_wrapper' in out


def test_apis_re_exports_the_engine_wrapper():
    from mmmtl.apis import AutocastOptimWrapper as FromApis
    from mmmtl.apis.train_options import AutocastOptimWrapper as FromOptions
    from mmmtl.engine import AutocastOptimWrapper
    assert FromApis is AutocastOptimWrapper is FromOptions
    wrapper = AutocastOptimWrapper(
        optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
    assert wrapper.cast_dtype == torch.bfloat16
