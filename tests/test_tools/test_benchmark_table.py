"""tools/analysis/benchmark_table.py: train two tiny configs, tabulate.

End to end: ``run`` trains a tiny VMT and a tiny MTLoRA config (20
iterations, validation every 10) and ``collect`` tabulates them; the
table must hold the counting code's parameter numbers and exactly the
logged metrics and Δm. ``--slurm`` only writes scripts. The single-task
merge, ``--pick best`` and the errors run on log files written here.
"""
import csv
import json
import re
import shlex
import subprocess
from pathlib import Path

import cv2
import pytest
from mmengine.config import Config

from mmmtl.analysis.benchmark_table import (BenchmarkError, collect,
                                            parse_cfg_options, plan_runs,
                                            plot_delta_m_vs_params,
                                            read_config_list, run_locally)
from mmmtl.analysis.counting import CONVENTIONS, param_report
from mmmtl.apis import load_config
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.registry import MODELS
from repo_files import REPO, load_module

TASKS = ('semseg', 'depth')
METHODS = dict(
    tiny_vmt=('configs/vmt/vmt_swin_t_synthetic.py', 'bottleneck=4'),
    tiny_mtlora=('configs/mtlora/mtlora_r16_swin_t_synthetic.py', 'rank=4'))
# Δm references of configs/_base_/synthetic_swin_t.py
BASELINES = dict(semseg=92.62, depth=0.668)


def tool():
    return load_module('tools/analysis/benchmark_table.py')


def tiny_config(path: Path, data_root: Path, method: str) -> Path:
    """A tiny Swin (16 channels, one block per stage) with ``method`` on
    semseg and depth, 32x32 images, validation every 10 iterations with
    the best Δm checkpoint kept."""
    base, size = METHODS[method]
    heads = ', '.join(f'{t}=dict(head=dict(channels=[4, 4, 4, 4]))'
                      for t in TASKS)
    path.write_text(f"""
_base_ = ['{REPO / base}']
model = dict(
    task_names={TASKS},
    backbone=dict({size}, module=dict(
        embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
        window_size=2, drop_path_rate=0.0)),
    tasks=dict({heads}))
data = dict(data_root='{data_root}', num_train=4, num_val=2, size=32)
train_dataloader = dict(batch_size=2, sampler=dict(type='InfiniteSampler'),
                        dataset=data)
val_dataloader = dict(batch_size=2, dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1000, val_interval=10)
default_hooks = dict(
    checkpoint=dict(interval=1000, save_best='delta_m', rule='greater'),
    logger=dict(interval=5))
""")
    return path


def val_records(work_dir: Path) -> list:
    records = [json.loads(line) for f in sorted(
        work_dir.glob('*/vis_data/scalars.json'))
        for line in f.read_text().splitlines()]
    return [r for r in records if 'semseg/mIoU' in r]


def logged_metrics(record: dict) -> dict:
    return {k: v for k, v in record.items() if '/' in k}


def expected_trainable(config: Path, task_names=None) -> dict:
    options = None if task_names is None else {
        'model.task_names': list(task_names)}
    model = MODELS.build(load_config(str(config), options).model)
    reports = {c: param_report(model, c) for c in CONVENTIONS}
    return {c: r['headline'] for c, r in reports.items()}, \
        reports['mmmtl']['backbone_total']


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    base = tmp_path_factory.mktemp('bench')
    data_root = Path(generate_synthetic_dataset(
        str(base / 'synthetic'), num_train=4, num_val=2, size=32))
    return [tiny_config(base / f'{m}.py', data_root, m) for m in METHODS]


@pytest.fixture(scope='module')
def trained(configs, tmp_path_factory):
    work_root = tmp_path_factory.mktemp('runs')
    mp = pytest.MonkeyPatch()
    mp.setenv('OMP_NUM_THREADS', '1')  # 2 shared cores: no thread fights
    try:
        specs = tool().main(['run', *map(str, configs), '--work-root',
                             str(work_root), '--cfg-options',
                             'train_cfg.max_iters=20', 'randomness.seed=0'])
    finally:
        mp.undo()
    return configs, work_root, specs


def test_run_then_collect_tabulates_counts_metrics_and_delta_m(
        trained, tmp_path):
    configs, work_root, specs = trained
    assert [s.work_dir for s in specs] == [
        str(work_root / c.stem) for c in configs]
    rows = tool().main(['collect', str(work_root)])
    by_method = {r.method: r for r in rows}
    assert sorted(by_method) == sorted(c.stem for c in configs)
    for config in configs:
        row, work_dir = by_method[config.stem], work_root / config.stem
        records = val_records(work_dir)
        # --cfg-options reached the training: 20 iterations, val every 10
        assert [r['step'] for r in records] == [10, 20]
        trainable, backbone_total = expected_trainable(config)
        assert row.trainable == trainable
        assert trainable['mtlora'] > trainable['mmmtl'] > 0
        assert row.backbone_total == backbone_total
        assert row.trainable_pct['mmmtl'] == pytest.approx(
            100 * trainable['mmmtl'] / backbone_total)
        assert row.metrics == logged_metrics(records[-1])
        assert row.delta_m == records[-1]['delta_m']
        assert row.headline == dict(semseg='mIoU', depth='rmse')
        assert row.steps == [20] and row.kind == 'multi-task'

    with open(work_root / 'table.csv', newline='') as f:
        table = {r['method']: r for r in csv.DictReader(f)}
    assert sorted(table) == sorted(by_method)
    for method, row in by_method.items():
        assert int(table[method]['trainable_mtlora']) == \
            row.trainable['mtlora']
        assert int(table[method]['trainable_mmmtl']) == \
            row.trainable['mmmtl']
        assert float(table[method]['delta_m']) == pytest.approx(row.delta_m)
        assert float(table[method]['depth/rmse']) == pytest.approx(
            row.metrics['depth/rmse'])
    markdown = (work_root / 'table.md').read_text()
    assert markdown.count('\n| tiny_') == 2
    assert '| semseg mIoU ↑ | depth rmse ↓ | Δm (%) ↑ |' in markdown
    saved = json.loads((work_root / 'table.json').read_text())
    assert [r['method'] for r in saved['rows']] == [r.method for r in rows]

    png = work_root / 'delta_m_vs_params.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] > 100
    points = plot_delta_m_vs_params(rows, str(tmp_path / 'plot.png'))
    assert points == [(r.method, r.trainable['mtlora'] / 1e6, r.delta_m)
                      for r in rows]


def test_collect_pick_best_reports_the_best_checkpoints_validation(
        trained, tmp_path):
    configs, work_root, _ = trained
    rows = tool().main(['collect', str(work_root), '--pick', 'best',
                        '--out', str(tmp_path)])
    assert (tmp_path / 'table.md').is_file()
    for row in rows:
        work_dir = work_root / row.method
        records = val_records(work_dir)
        best = max(records, key=lambda r: r['delta_m'])
        [ckpt] = work_dir.glob('best_delta_m_iter_*.pth')
        assert ckpt.name == f'best_delta_m_iter_{best["step"]}.pth'
        assert row.steps == [best['step']]
        assert row.metrics == logged_metrics(best)
        assert row.delta_m == best['delta_m']


def test_slurm_writes_scripts_and_runs_nothing(configs, tmp_path, capsys):
    work_root = tmp_path / 'runs'
    commands = tool().main([
        'run', *map(str, configs), '--work-root', str(work_root),
        '--single-task', '--slurm', 'gpu', '--gpus', '8',
        '--cfg-options', 'randomness.seed=0'])
    names = [f'{c.stem}_single_{t}' for c in configs for t in TASKS]
    scripts = [work_root / 'slurm' / f'{n}.sh' for n in names]
    assert commands == [f'sbatch {s}' for s in scripts]
    assert capsys.readouterr().out.split('\n')[:4] == commands
    train = str(REPO / 'tools' / 'train.py')
    for config in configs:
        for task in TASKS:
            name = f'{config.stem}_single_{task}'
            script = work_root / 'slurm' / f'{name}.sh'
            text = script.read_text()
            subprocess.run(['bash', '-n', str(script)], check=True)
            for line in ('#SBATCH --partition=gpu',
                         f'#SBATCH --job-name={name}', '#SBATCH --nodes=2',
                         '#SBATCH --ntasks=8', '#SBATCH --gres=gpu:4',
                         '#SBATCH --ntasks-per-node=4',
                         '#SBATCH --cpus-per-task=5'):
                assert line + '\n' in text
            assert f'export PYTHONPATH={REPO}:$PYTHONPATH' in text
            option = f'model.task_names=[{task}]'
            assert shlex.split(text.splitlines()[-1]) == [
                'srun', '--kill-on-bad-exit=1', 'python', '-u', train,
                str(config), '--launcher', 'slurm', '--work-dir',
                str(work_root / name), '--cfg-options', 'randomness.seed=0',
                option]
            # the option builds the model of that one task
            cfg = load_config(str(config), parse_cfg_options([option]))
            assert MODELS.build(cfg.model).task_names == (task, )
            marker = json.loads((work_root / name /
                                 'benchmark_run.json').read_text())
            assert marker['method'] == config.stem and \
                marker['task'] == task
            # nothing ran: the work dir holds the marker only
            assert [p.name for p in (work_root / name).iterdir()] == [
                'benchmark_run.json']


def fake_run(work_dir: Path, config: Path, records: list, task=None,
             method='tiny_vmt', task_names=None) -> Path:
    """A work dir as a finished run leaves it: marker, dumped config and
    scalars.json (a train record before each validation record)."""
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    cfg = Config.fromfile(str(config))
    if task_names is not None:
        cfg.merge_from_dict({'model.task_names': list(task_names)})
    cfg.dump(str(vis / 'config.py'))
    lines = []
    for record in records:
        lines.append(json.dumps(dict(loss=1.0, lr=0.1, step=record['step'])))
        lines.append(json.dumps(dict(record, data_time=0.1, time=0.2)))
    (vis / 'scalars.json').write_text('\n'.join(lines) + '\n')
    (work_dir / 'benchmark_run.json').write_text(json.dumps(dict(
        method=method, task=task, config=str(config))))
    return work_dir


def test_single_task_runs_merge_into_one_row(configs, tmp_path):
    config = configs[0]
    multi = {'semseg/mIoU': 60.0, 'depth/rmse': 0.7, 'delta_m': -12.0}
    fake_run(tmp_path / 'a_multi', config, [dict(multi, step=20)])
    semseg = {'semseg/mIoU': 46.31, 'semseg/pixAcc': 80.0, 'delta_m': -50.0}
    depth = {'depth/rmse': 0.835, 'depth/absRel': 0.2, 'delta_m': -25.0}
    fake_run(tmp_path / 'b_single_semseg', config,
             [dict(semseg, step=10), dict(semseg, step=20)], 'semseg',
             task_names=['semseg'])
    fake_run(tmp_path / 'b_single_depth', config,
             [dict(depth, **{'depth/rmse': 9.0}, step=10),
              dict(depth, step=20)], 'depth', task_names=['depth'])
    multi_row, single_row = collect([str(tmp_path)])
    assert multi_row.method == 'tiny_vmt' and multi_row.delta_m == -12.0
    assert single_row.method == 'single-task tiny_vmt'
    assert single_row.kind == 'single-task' and single_row.steps == [20, 20]
    assert single_row.metrics == {
        'semseg/mIoU': 46.31, 'semseg/pixAcc': 80.0, 'depth/rmse': 0.835,
        'depth/absRel': 0.2}
    # semseg: 46.31 = 0.5 x 92.62 -> -50 %; depth: 0.835 = 1.25 x 0.668,
    # lower is better -> -25 %; Δm = mean = -37.5 %
    assert 46.31 / BASELINES['semseg'] == pytest.approx(0.5)
    assert 0.835 / BASELINES['depth'] == pytest.approx(1.25)
    assert single_row.delta_m == pytest.approx(-37.5)
    counts = [expected_trainable(config, [t]) for t in ('depth', 'semseg')]
    for convention in CONVENTIONS:
        total = sum(c[convention] for c, _ in counts)
        assert single_row.trainable[convention] == total
        assert single_row.trainable_pct[convention] == pytest.approx(
            100 * total / counts[0][1])
    full, _ = expected_trainable(config)
    # two single-task models: one backbone's adapters and a head each
    assert single_row.trainable['mtlora'] > full['mtlora']
    again = fake_run(tmp_path / 'again' / 'b_single_depth', config,
                     [dict(depth, step=20)], 'depth', task_names=['depth'])
    with pytest.raises(BenchmarkError, match='two single-task runs of '
                       "'tiny_vmt' train depth"):
        collect([str(tmp_path), str(again)])


def test_pick_best_uses_the_best_checkpoints_step(configs, tmp_path):
    records = [{'semseg/mIoU': 50.0, 'depth/rmse': 1.0, 'delta_m': -s,
                'step': s} for s in (10, 20, 30)]
    work_dir = fake_run(tmp_path / 'run', configs[0], records)
    (work_dir / 'best_delta_m_iter_10.pth').write_bytes(b'')
    # a killed run's truncated last line is skipped
    [log] = work_dir.glob('*/vis_data/scalars.json')
    log.write_text(log.read_text() + '{"semseg/mIoU": 5')
    [row] = collect([str(work_dir)], pick='best')
    assert row.steps == [10] and row.delta_m == -10
    [row] = collect([str(work_dir)], pick='last')
    assert row.steps == [30] and row.delta_m == -30
    (work_dir / 'best_delta_m_iter_10.pth').unlink()
    with pytest.raises(BenchmarkError, match='save_best'):
        collect([str(work_dir)], pick='best')


def test_work_dir_without_validation_is_one_clear_error(configs, tmp_path,
                                                        capsys):
    work_dir = fake_run(tmp_path / 'unfinished', configs[0], [])
    with pytest.raises(SystemExit) as exc:
        tool().main(['collect', str(work_dir)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f'{work_dir}: no validation results' in err
    assert 'Traceback' not in err
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BenchmarkError,
                       match=re.escape(f'{tmp_path}/empty: no valid')):
        collect([str(tmp_path / 'empty')])


def test_config_that_fails_to_build_is_named(configs, tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text(f"_base_ = ['{configs[0]}']\n"
                   "model = dict(backbone=dict(bottleneck=-4))\n")
    records = [{'semseg/mIoU': 50.0, 'depth/rmse': 1.0, 'step': 10}]
    work_dir = fake_run(tmp_path / 'bad_run', bad, records)
    with pytest.raises(BenchmarkError) as exc:
        collect([str(work_dir)])
    assert str(exc.value).startswith(f'{work_dir}: the model of config ')
    assert 'fails to build' in str(exc.value)


def test_run_errors_name_the_config(configs, tmp_path):
    missing = tmp_path / 'missing.py'
    listing = tmp_path / 'configs.txt'
    listing.write_text(f'# the benchmark\n{configs[0]}\n{missing}\n')
    with pytest.raises(BenchmarkError, match=re.escape(
            f'config file not found: {missing} (listed in {listing})')):
        read_config_list([str(listing)])
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    with pytest.raises(BenchmarkError,
                       match=re.escape(f'config {broken} fails to load')):
        plan_runs([str(broken)], str(tmp_path), single_task=True)
    # a training that fails is named; the others still run
    fake_train = tmp_path / 'train.py'
    fake_train.write_text('import sys\n'
                          "sys.exit(3 if 'failing' in sys.argv[1] else 0)\n")
    failing = tmp_path / 'failing.py'
    failing.write_text(f"_base_ = ['{configs[0]}']\n")
    specs = plan_runs([str(failing), str(configs[0])], str(tmp_path / 'w'))
    with pytest.raises(BenchmarkError) as exc:
        run_locally(specs, str(fake_train))
    assert str(exc.value) == (
        f'1 of 2 trainings failed: {failing}: exit status 3, log in '
        f'{tmp_path / "w" / "failing"}')
    assert all(Path(s.work_dir, 'benchmark_run.json').is_file()
               for s in specs)
