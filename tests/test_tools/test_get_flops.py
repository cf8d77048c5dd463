"""tools/analysis/get_flops.py and the FLOP counting behind it."""
import json

import pytest
import torch
from mmengine.config import Config

from mmmtl.analysis import flops as flops_module
from mmmtl.analysis.complexity import component_rows, format_complexity_report
from mmmtl.analysis.counting import param_report
from mmmtl.analysis.flops import component_flops
from mmmtl.apis import load_config
from mmmtl.registry import MODELS
from repo_files import REPO, load_module

CONFIGS = REPO / 'configs'
VMT_SYNTHETIC = CONFIGS / 'vmt/vmt_swin_t_synthetic.py'
FULL_FT_SYNTHETIC = CONFIGS / 'full_ft/full_ft_mtl_swin_t_synthetic.py'
POLYHISTOR_SYNTHETIC = CONFIGS / 'polyhistor/polyhistor_swin_t_synthetic.py'
SYNTHETIC_TASKS = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')


def load_tool():
    return load_module('tools/analysis/get_flops.py')


def build(config) -> torch.nn.Module:
    return MODELS.build(load_config(str(config)).model)


def vmt_adapter_macs(size: int, k: int, tasks: int) -> int:
    """Multiply-adds of VMT's adapters in Swin-T (patch 4, depths 2/2/6/2,
    widths 96..768) on a size x size image: per block the shared down and
    up projections, 2 L d k; at the last block of each stage T task up
    projections, T L k d (biases, GELU and the affine KE are elementwise,
    which the counters do not count)."""
    total = 0
    for stage, depth in enumerate((2, 2, 6, 2)):
        tokens = (size // 4 // 2 ** stage) ** 2
        width = 96 * 2 ** stage
        total += depth * 2 * tokens * width * k + tasks * tokens * k * width
    return total


def test_get_flops_vmt_synthetic_prints_every_component(tmp_path, capsys):
    out = tmp_path / 'report.json'
    report = load_tool().main([str(VMT_SYNTHETIC), '--repeats', '1',
                               '--warmup', '0', '--out', str(out)])
    printed = capsys.readouterr().out
    rows = {row['name']: row for row in report['components']}
    heads = [f'head {task}' for task in SYNTHETIC_TASKS]
    assert list(rows) == ['backbone', 'adapters', *heads, 'total']
    assert report['counter'] == 'jit' and report['fallback_reason'] is None
    assert report['input_shape'] == [128, 128]
    for name, row in rows.items():
        line = next(li for li in printed.splitlines()
                    if li.startswith(name + ' '))
        gflops = float(line.split()[-3])
        assert gflops > 0, line
        assert gflops == pytest.approx(row['gflops'], abs=5e-4)
    assert sum(rows[name]['flops'] for name in rows if name != 'total') == \
        rows['total']['flops']
    # numpy's einsum path estimate for the task projections is a few
    # hundred multiply-adds off the exact count
    assert rows['adapters']['flops'] == pytest.approx(
        vmt_adapter_macs(128, k=30, tasks=5), rel=1e-4)
    # k = 30, 12 blocks, sum of widths 4416, 5 tasks (see count_params)
    assert rows['adapters']['params'] == 2 * 30 * 4416 + 12 * 30 + 4416 \
        + 2 * 30 * 5 * 12 == 273336
    assert rows['backbone']['trainable'] == 0
    assert report['throughput']['images_per_s'] > 0
    assert len(report['throughput']['seconds']) == 1
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))


def test_counters_agree_and_backbone_is_one_plain_pass():
    vmt, full_ft = build(VMT_SYNTHETIC), build(FULL_FT_SYNTHETIC)
    jit = component_flops(vmt, (64, 64), 'jit')['flops']
    ops = component_flops(vmt, (64, 64), 'ops')['flops']
    assert list(jit) == list(ops)
    for name in jit:  # ops counts no norms and no upsampling
        assert ops[name] == pytest.approx(jit[name], rel=0.03), name
    assert ops['adapters'] == vmt_adapter_macs(64, k=30, tasks=5)
    plain = component_flops(full_ft, (64, 64), 'jit')['flops']
    assert plain['adapters'] == 0
    assert plain['backbone'] == jit['backbone']
    assert plain['head semseg'] == jit['head semseg']


def test_task_streams_count_as_adapter_cost():
    """Polyhistor runs the frozen backbone once per task: the adapters
    line holds the T - 1 extra passes."""
    result = component_flops(build(POLYHISTOR_SYNTHETIC), (64, 64), 'ops')
    flops = result['flops']
    assert flops['adapters'] > (len(SYNTHETIC_TASKS) - 1) * \
        flops['backbone']
    assert flops['adapters'] < len(SYNTHETIC_TASKS) * flops['backbone']


def test_auto_falls_back_to_executed_ops(monkeypatch):
    def untraceable(model, inputs):
        raise RuntimeError('cannot trace this\nsecond line')

    monkeypatch.setitem(flops_module.COUNTER_FUNCTIONS, 'jit', untraceable)
    model = build(VMT_SYNTHETIC)
    result = component_flops(model, (64, 64), 'auto')
    assert result['counter'] == 'ops'
    assert result['fallback_reason'] == 'RuntimeError: cannot trace this'
    assert 'FlopCounterMode' in result['counter_name']
    rows = component_rows(model, result.pop('flops'), param_report(model))
    assert rows[-1]['name'] == 'total' and rows[-1]['flops'] > 0
    text = format_complexity_report(dict(
        config='c.py', input_shape=[64, 64], shape_source='--shape',
        components=rows, throughput=None, **result))
    assert 'FlopCounterMode' in text
    assert '(the jit trace failed, so executed ops were counted: ' \
        'RuntimeError: cannot trace this)' in text


def test_input_shape_from_config_and_option():
    tool = load_tool()
    pascal = load_config(str(REPO / 'configs/vmt/vmt_swin_t_pascal.py'))
    assert tool.config_input_shape(pascal) == (
        (448, 448), 'the test pipeline resize')
    rect = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiTaskResize', scale=(640, 480), keep_ratio=False)
    ]))))
    assert tool.config_input_shape(rect)[0] == (480, 640)
    kept = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='MultiTaskResize', scale=(640, 480), keep_ratio=True)
    ]))))
    assert tool.config_input_shape(kept)[0] == tool.DEFAULT_SHAPE
    synthetic = load_config(str(VMT_SYNTHETIC))
    assert tool.config_input_shape(synthetic)[0] == (128, 128)
    args = tool.parse_args([str(VMT_SYNTHETIC), '--shape', '64'])
    assert tool.input_shape(args, synthetic) == ((64, 64), '--shape')
    args = tool.parse_args([str(VMT_SYNTHETIC), '--shape', '64', '96'])
    assert tool.input_shape(args, synthetic)[0] == (64, 96)


@pytest.mark.parametrize('options, message', [
    (['--shape', '0'], '--shape takes one or two positive sizes'),
    (['--shape', '1', '2', '3'], '--shape takes one or two positive sizes'),
    (['--device', 'nonsense'], "--device 'nonsense' is not a device name"),
    (['--batch-size', '0'], 'need batch_size >= 1'),
])
def test_user_errors_are_one_line(options, message, capsys):
    with pytest.raises(SystemExit) as exc:
        load_tool().main([str(VMT_SYNTHETIC), '--counter', 'ops', *options])
    assert exc.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.startswith('error:')]
    assert len(err) == 1 and message in err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU-only '
                    'machine')
def test_cuda_on_cpu_machine_is_a_user_error(capsys):
    with pytest.raises(SystemExit) as exc:
        load_tool().main([str(VMT_SYNTHETIC), '--device', 'cuda'])
    assert exc.value.code == 2
    assert 'this machine has no CUDA device' in capsys.readouterr().err
