"""Speed options of tools/train.py (--amp, --amp-dtype, --compile) and the
framework-overhead benchmark, on a tiny synthetic VMT config on CPU."""
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from mmmtl.apis import AutocastOptimWrapper
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from repo_files import REPO, load_module

CONFIG = str(REPO / 'configs/vmt/vmt_swin_t_synthetic.py')
TASKS = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> Path:
    """The synthetic VMT config at 32x32, Swin with 16 channels, batch 2."""
    base = tmp_path_factory.mktemp('speed')
    root = generate_synthetic_dataset(str(base / 'data'), num_train=4,
                                      num_val=2, size=32)
    heads = ',\n'.join(
        f'    {t}=dict(head=dict(in_channels=[16, 32, 64, 128], '
        'channels=[4, 4, 4, 4]))' for t in TASKS)
    path = base / 'tiny_vmt.py'
    path.write_text(f"""
_base_ = ['{CONFIG}']
model = dict(
    backbone=dict(bottleneck=4, module=dict(
        embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
        window_size=2, drop_path_rate=0.0)),
    tasks=dict(
{heads}))
data = dict(data_root='{root}', num_train=4, num_val=2, size=32)
train_dataloader = dict(batch_size=2, dataset=data)
val_dataloader = dict(batch_size=2, dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=3, val_interval=100)
default_hooks = dict(logger=dict(interval=1))
""")
    return path


def build_config(tmp_path, *options):
    train = load_module('tools/train.py')
    return train.build_config(train.parse_args(
        [CONFIG, '--work-dir', str(tmp_path), *options]))


@pytest.fixture
def cuda(monkeypatch):
    """Pretend a CUDA device is present (config plumbing only)."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)


@pytest.mark.parametrize('options,dtype', [
    ((), 'float16'), (('--amp-dtype', 'float16'), 'float16'),
    (('--amp-dtype', 'bfloat16'), 'bfloat16')])
def test_amp_on_cuda_is_mmengine_amp_wrapper(tmp_path, cuda, options,
                                             dtype):
    cfg = build_config(tmp_path, '--amp', *options)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=5.0)


def test_without_cuda_bf16_amp_is_autocast_wrapper(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('checks the CPU choice')
    cfg = build_config(tmp_path, '--amp', '--amp-dtype', 'bfloat16')
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert 'loss_scale' not in cfg.optim_wrapper


def test_without_cuda_fp16_amp_refuses_naming_bf16(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='--amp-dtype bfloat16'):
        build_config(tmp_path, '--amp')


def test_amp_dtype_without_amp_refuses(tmp_path):
    with pytest.raises(SystemExit, match='--amp-dtype needs --amp'):
        build_config(tmp_path, '--amp-dtype', 'bfloat16')


def test_no_speed_options_leave_the_config_alone(tmp_path):
    cfg = build_config(tmp_path)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'dtype' not in cfg.optim_wrapper
    assert cfg.get('compile') is None


@pytest.mark.parametrize('options,backend', [
    (('--compile', ), 'inductor'), (('--compile', 'aot_eager'), 'aot_eager')])
def test_compile_sets_the_runner_compile_config(tmp_path, cuda, options,
                                                backend):
    cfg = build_config(tmp_path, *options)
    assert cfg.compile == dict(backend=backend)


def test_compile_on_cpu_warns_and_keeps_the_option(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.warns(UserWarning, match='on CPU'):
        cfg = build_config(tmp_path, '--compile')
    assert cfg.compile == dict(backend='inductor')


def test_autocast_wrapper_runs_the_forward_in_bf16():
    layer = nn.Linear(4, 3)
    wrapper = AutocastOptimWrapper(
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    x = torch.randn(2, 4)
    with wrapper.optim_context(layer):
        inside = layer(x)
    assert inside.dtype == torch.bfloat16
    assert layer(x).dtype == torch.float32
    before = layer.weight.detach().clone()
    wrapper.update_params(inside.float().sum())
    assert not torch.equal(before, layer.weight)
    with pytest.raises(ValueError, match='only bfloat16'):
        AutocastOptimWrapper(dtype='float16', optimizer=wrapper.optimizer)


def train_losses(config: Path, work_dir: Path, *options):
    """Train ``config`` with ``options``: (runner, logged total losses)."""
    runner = load_module('tools/train.py').main(
        [str(config), '--work-dir', str(work_dir), *options])
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    lines = files[-1].read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return runner, [r['loss'] for r in records if 'loss' in r]


def test_bf16_amp_trains_on_cpu_with_finite_losses(tiny, tmp_path):
    if torch.cuda.is_available():
        pytest.skip('trains on CPU')
    runner, losses = train_losses(tiny, tmp_path, '--amp', '--amp-dtype',
                                  'bfloat16')
    assert isinstance(runner.optim_wrapper, AutocastOptimWrapper)
    assert len(losses) == 3
    assert all(math.isfinite(loss) and loss > 0 for loss in losses)


def test_framework_overhead_benchmark_writes_json(tiny, tmp_path):
    bench = load_module('benchmarks/framework_overhead.py')
    out = tmp_path / 'overhead.json'
    bench.main(['--config', str(tiny), '--out', str(out), '--iters', '2',
                '--warmup', '1', '--rounds', '1', '--log-intervals', '2',
                '1'])
    result = json.loads(out.read_text())
    modes = {'bare', 'framework_log2', 'framework_log1'}
    assert set(result['step_time']) == modes
    assert all(s['min_s'] > 0 and len(s['all_s']) == 1
               for s in result['step_time'].values())
    assert set(result['ratio_framework_over_bare']) == modes - {'bare'}
    profile = result['profile_ms_per_iter']['framework_log1']
    assert {'NonFiniteLossHook.after_train_iter',
            'LoggerHook.after_train_iter',
            'train_step.update_params', 'train_step.loss_forward',
            'other', 'total'} <= set(profile)
    assert profile['train_step.loss_forward'] > 0
    assert result['real_dataloader_s_per_batch'] > 0
    assert result['batch_size'] == 2
    assert result['machine']['cpu_count'] >= 1
