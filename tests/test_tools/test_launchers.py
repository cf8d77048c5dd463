"""tools/slurm_train.sh and tools/slurm_test.sh on CPU with a stand-in srun.

The stand-in ``srun`` (written into ``tmp/bin``, first on ``PATH``) ignores
srun's options and starts ``--ntasks`` local copies of the command with the
``SLURM_*`` variables a real srun sets; a stand-in ``scontrol`` expands the
node list. A marker hook in each rank records the process group it joined.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mmmtl.compat.dist import (export_slurm_env, first_host_of_nodelist,
                               first_slurm_host)
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from repo_files import REPO, load_module

NUM_VAL = 5  # uneven over 2 ranks: the sampler pads one image

SRUN = '''#!{python}
"""Stand-in srun: run --ntasks local copies of the command."""
import os
import subprocess
import sys

args, ntasks = sys.argv[1:], 1
while args and args[0].startswith('-'):
    option = args.pop(0)
    if option.startswith('--ntasks='):
        ntasks = int(option.split('=')[1])
    elif len(option) == 2:
        args.pop(0)
procs = []
for rank in range(ntasks):
    env = dict(os.environ, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
               SLURM_NTASKS=str(ntasks), SLURM_NODELIST='localhost',
               SLURM_NNODES='1', SLURM_NODEID='0', SLURM_JOB_ID='1',
               SLURM_STEP_NUM_TASKS=str(ntasks))
    procs.append(subprocess.Popen(args, env=env))
sys.exit(max(p.wait() for p in procs))
'''

SCONTROL = '''#!/usr/bin/env bash
# Stand-in scontrol: "scontrol show hostnames a,b" prints one host a line.
echo "$3" | tr ',' '\\n'
'''

MARKER_HOOK = '''
import json
import os

import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class RankMarkerHook(Hook):
    """Writes what this rank's process group looks like."""

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def before_train(self, runner):
        pids = [None] * dist.get_world_size()
        dist.all_gather_object(pids, os.getpid())
        model = runner.model
        marker = dict(rank=dist.get_rank(), world_size=runner.world_size,
                      backend=dist.get_backend(), pids=pids,
                      wrapper=type(model).__name__,
                      device_ids=getattr(model, 'device_ids', 'none'),
                      env={k: os.environ[k] for k in (
                          'RANK', 'WORLD_SIZE', 'LOCAL_RANK',
                          'MASTER_ADDR', 'MASTER_PORT')})
        name = f'{runner.rank}_{os.getpid()}.json'
        with open(os.path.join(self.out_dir, name), 'w') as f:
            json.dump(marker, f)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def run_script(script: str, args: list, env: dict) -> str:
    proc = subprocess.run(['bash', str(REPO / 'tools' / script), *args],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


def read_markers(folder: Path) -> list:
    return sorted((json.loads(p.read_text()) for p in folder.glob('*.json')),
                  key=lambda m: m['rank'])


@pytest.fixture(scope='module')
def slurm_run(tmp_path_factory):
    """GPUS=2 GPUS_PER_NODE=2 slurm_train.sh for 2 iterations."""
    base = tmp_path_factory.mktemp('slurm')
    bin_dir = base / 'bin'
    bin_dir.mkdir()
    write_executable(bin_dir / 'srun', SRUN.format(python=sys.executable))
    write_executable(bin_dir / 'scontrol', SCONTROL)
    (base / 'rank_marker.py').write_text(MARKER_HOOK)
    markers = base / 'markers'
    markers.mkdir()
    data_root = generate_synthetic_dataset(
        str(base / 'synthetic'), num_train=4, num_val=NUM_VAL, size=32)
    tiny = load_module('tests/test_tools/test_train_test_tools.py')
    cfg = tiny.tiny_config(base / 'tiny.py', Path(data_root), max_iters=2)
    with cfg.open('a') as f:
        f.write(f"data.update(num_val={NUM_VAL})\n"
                "custom_imports = dict(imports=['rank_marker'])\n"
                "custom_hooks = [dict(type='RankMarkerHook', "
                f"out_dir='{markers}')]\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('SLURM_', 'MASTER_', 'RANK', 'WORLD_SIZE',
                                'LOCAL_RANK'))}
    env.update(
        PATH=f'{bin_dir}:{Path(sys.executable).parent}:{env["PATH"]}',
        PYTHONPATH=str(base), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
        GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
        PORT=str(free_port()))
    work_dir = base / 'work'
    log = run_script('slurm_train.sh', [
        'cpu', 'tiny', str(cfg), '--work-dir', str(work_dir)], env)
    return dict(cfg=cfg, work_dir=work_dir, markers=markers, env=env,
                log=log)


def test_every_rank_joins_one_gloo_group_with_cpu_ddp(slurm_run):
    markers = read_markers(slurm_run['markers'])
    assert [m['rank'] for m in markers] == [0, 1]
    port = slurm_run['env']['PORT']
    for rank, marker in enumerate(markers):
        assert marker['world_size'] == 2
        assert marker['backend'] == 'gloo'
        assert marker['pids'] == markers[0]['pids']
        assert marker['wrapper'] == 'MMDistributedDataParallel'
        assert marker['device_ids'] is None
        assert marker['env'] == dict(
            RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank),
            MASTER_ADDR='localhost', MASTER_PORT=port)
    assert len(set(markers[0]['pids'])) == 2
    assert 'Distributed launcher: slurm' in slurm_run['log']


def test_one_checkpoint_set_and_one_validation_record(slurm_run):
    work_dir = slurm_run['work_dir']
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']
    scalars = list(work_dir.glob('*/vis_data/scalars.json'))
    assert len(scalars) == 1
    records = [json.loads(line) for line in
               scalars[0].read_text().splitlines()]
    assert len([r for r in records if 'semseg/mIoU' in r]) == 1
    assert [r['step'] for r in records if 'loss' in r] == [1, 2]


def test_slurm_test_matches_one_process_test(slurm_run, tmp_path):
    cfg, work_dir = slurm_run['cfg'], slurm_run['work_dir']
    ckpt = str(work_dir / 'iter_2.pth')
    two = tmp_path / 'two.json'
    log = run_script('slurm_test.sh', [
        'cpu', 'tiny', str(cfg), ckpt, '--work-dir', str(tmp_path / 'dist'),
        '--out', str(two)], slurm_run['env'])
    assert 'Distributed launcher: slurm' in log
    sys.path.insert(0, str(cfg.parent))
    try:
        one = load_module('tools/test.py').main([
            str(cfg), ckpt, '--work-dir', str(tmp_path / 'single')])
    finally:
        sys.path.remove(str(cfg.parent))
    two = json.loads(two.read_text())
    assert set(two) == set(one) and len(one) > 5
    for key, value in one.items():
        assert two[key] == pytest.approx(value, abs=1e-4), key


@pytest.mark.parametrize('nodelist,host', [
    ('localhost', 'localhost'), ('node7,node8', 'node7'),
    ('gpu[03-05,09],cpu1', 'gpu03'), ('n[12]', 'n12')])
def test_first_host_of_a_node_list_without_scontrol(nodelist, host):
    assert first_host_of_nodelist(nodelist) == host


def test_first_host_comes_from_scontrol_when_it_is_there(tmp_path,
                                                         monkeypatch):
    write_executable(tmp_path / 'scontrol',
                     '#!/bin/sh\nprintf "hostB\\nhostC\\n"\n')
    monkeypatch.setenv('PATH', str(tmp_path))
    assert first_slurm_host('hostB,hostC') == 'hostB'
    assert first_slurm_host('anything') == 'hostB'
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    assert first_slurm_host('gn[4-5]') == 'gn4'


SLURM_ENV = dict(SLURM_PROCID='3', SLURM_NTASKS='8', SLURM_LOCALID='1',
                 SLURM_NODELIST='gn[4-5]')


@pytest.fixture
def slurm_env(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))  # no scontrol
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    for name, value in SLURM_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_slurm_variables_become_the_rendezvous_variables(slurm_env):
    export_slurm_env()
    assert {k: os.environ[k] for k in (
        'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
        'MASTER_PORT')} == dict(RANK='3', WORLD_SIZE='8', LOCAL_RANK='1',
                                MASTER_ADDR='gn4', MASTER_PORT='29500')


def test_master_address_and_port_already_set_are_kept(slurm_env):
    slurm_env.setenv('MASTER_ADDR', '10.0.0.7')
    slurm_env.setenv('MASTER_PORT', '29123')
    export_slurm_env()
    assert os.environ['MASTER_ADDR'] == '10.0.0.7'
    assert os.environ['MASTER_PORT'] == '29123'
    assert os.environ['RANK'] == '3'


def test_slurm_launcher_without_srun_names_what_is_missing(slurm_env):
    slurm_env.delenv('SLURM_PROCID')
    slurm_env.delenv('SLURM_NODELIST')
    with pytest.raises(RuntimeError, match=r'needs srun \(SLURM_PROCID, '
                       r'SLURM_NODELIST unset\)'):
        export_slurm_env()
