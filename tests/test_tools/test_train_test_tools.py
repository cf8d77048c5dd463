"""tools/train.py and tools/test.py end to end on a tiny VMT config.

Checks: test.py on the saved checkpoint reproduces the final validation
metrics exactly; --resume continues at the checkpoint's iteration; 2-process
CPU DDP through torchrun trains; missing data gives one clear error line.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from repo_files import REPO, load_module

TASKS = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')


def load_tool(name: str):
    return load_module(f'tools/{name}.py')


def tiny_config(path: Path, data_root: Path, max_iters: int = 4,
                base: str = 'configs/vmt/vmt_swin_t_synthetic.py',
                size: str = 'bottleneck=4',
                channels=(16, 32, 64, 128), depths=(1, 1, 1, 1)) -> Path:
    """A tiny version of the synthetic config ``base`` (``size``: the
    method's size argument; ``channels``: the backbone's output channels).
    """
    heads = ',\n'.join(
        f"        {t}=dict(head=dict(in_channels={list(channels)}, "
        f"channels=[4, 4, 4, 4]))" for t in TASKS)
    path.write_text(f"""
_base_ = ['{REPO / base}']
model = dict(
    backbone=dict({size}, module=dict(
        embed_dims=16, depths={list(depths)}, num_heads=[1, 1, 1, 1],
        window_size=2, drop_path_rate=0.0)),
    tasks=dict(
{heads}))
data = dict(data_root='{data_root}', num_train=4, num_val=2, size=32)
train_dataloader = dict(batch_size=2, dataset=data)
val_dataloader = dict(batch_size=2, dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(checkpoint=dict(interval=2),
                     logger=dict(interval=1))
""")
    return path


def read_scalars(work_dir: Path) -> list:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for f in files for line in f.read_text()
            .splitlines()]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp('tools')
    data_root = Path(generate_synthetic_dataset(
        str(base / 'synthetic'), num_train=4, num_val=2, size=32))
    cfg = tiny_config(base / 'tiny_vmt.py', data_root)
    work_dir = base / 'work'
    load_tool('train').main([str(cfg), '--work-dir', str(work_dir)])
    return cfg, work_dir


def test_test_tool_reproduces_final_validation(trained, tmp_path):
    cfg, work_dir = trained
    final = [r for r in read_scalars(work_dir) if 'semseg/mIoU' in r][-1]
    out = tmp_path / 'metrics.json'
    show = tmp_path / 'show'
    metrics = load_tool('test').main([
        str(cfg), str(work_dir / 'iter_4.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out', str(out), '--show-dir', str(show)])
    assert set(json.loads(out.read_text())) == set(metrics)
    pngs = sorted(show.glob('*.png'))
    assert len(pngs) == 2  # the two val images
    grid = cv2.imread(str(pngs[0]))
    # two rows (predictions, ground truth) of 1 + 5 cells of 32 px
    assert grid.shape[0] > 2 * 32 and grid.shape[1] > 6 * 32
    keys = [k for k in metrics if '/' in k]
    assert {k.split('/')[0] for k in keys} == set(TASKS)
    for key in keys:
        assert metrics[key] == pytest.approx(final[key], abs=1e-4), key


def test_resume_continues_at_checkpoint_iteration(trained, tmp_path):
    cfg, work_dir = trained
    runner = load_tool('train').main([
        str(cfg), '--work-dir', str(tmp_path), '--resume',
        str(work_dir / 'iter_2.pth')])
    assert runner.iter == 4
    steps = [r['step'] for r in read_scalars(tmp_path) if 'loss' in r]
    assert steps == [3, 4]
    assert (tmp_path / 'iter_4.pth').is_file()
    assert not (tmp_path / 'iter_2.pth').exists()


def run_cpu_ddp(cfg: Path, work_dir: Path, port: int) -> None:
    """tools/train.py on 2 CPU processes (gloo) for 2 iterations."""
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={port}', str(REPO / 'tools/train.py'), str(cfg),
         '--launcher', 'pytorch', '--work-dir', str(work_dir),
         '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    assert (work_dir / 'iter_2.pth').is_file()


def test_auto_scale_lr_follows_the_total_batch(trained, tmp_path):
    """Batch 2 on one process against the synthetic schedule's base batch
    4: every logged learning rate is half the unscaled run's."""
    cfg, work_dir = trained
    load_tool('train').main([str(cfg), '--work-dir', str(tmp_path),
                             '--auto-scale-lr'])
    plain = [r['lr'] for r in read_scalars(work_dir) if 'lr' in r]
    scaled = [r['lr'] for r in read_scalars(tmp_path) if 'lr' in r]
    assert len(plain) == len(scaled) == 4
    assert scaled == pytest.approx([lr * 2 / 4 for lr in plain], rel=1e-6)


def test_auto_scale_lr_needs_the_configs_base_batch(trained, tmp_path):
    cfg, _ = trained
    bare = tmp_path / 'bare.py'
    bare.write_text(f"_base_ = ['{cfg}']\nauto_scale_lr = None\n")
    with pytest.raises(SystemExit, match='no auto_scale_lr.base_batch_size'):
        load_tool('train').main([str(bare), '--work-dir', str(tmp_path),
                                 '--auto-scale-lr'])


def test_cpu_ddp_with_torchrun(trained, tmp_path):
    cfg, _ = trained
    run_cpu_ddp(cfg, tmp_path, port=29531)


def test_cpu_ddp_with_parameters_that_get_no_gradient(trained, tmp_path):
    """TADFormer with the released code's unused prompt norms (2 blocks per
    stage, so some are unused): DDP's second iteration fails unless the
    config's find_unused_parameters reaches the wrapper."""
    vmt_cfg, _ = trained
    cfg = tiny_config(
        tmp_path / 'tiny.py', vmt_cfg.parent / 'synthetic',
        base='configs/tadformer/tadformer_r16_swin_t_synthetic.py',
        size='rank=4, released_prompt_norms=True',
        channels=(32, 64, 128, 128), depths=(2, 2, 2, 2))
    run_cpu_ddp(cfg, tmp_path / 'work', port=29532)


def test_missing_data_root_is_one_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/train.py'),
         str(REPO / 'configs/vmt/vmt_swin_t_pascal.py'), '--work-dir',
         str(tmp_path / 'work')],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert 'data/PASCALContext' in proc.stderr
    assert 'dataset_prepare' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_head_for_a_task_the_dataset_lacks_is_one_clear_error(trained,
                                                              tmp_path):
    cfg, _ = trained
    bad = tmp_path / 'bad.py'
    bad.write_text(f"""
_base_ = ['{cfg}']
train_dataloader = dict(dataset=dict(
    tasks=('semseg', 'human_parts', 'saliency', 'normals')))
""")
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/train.py'), str(bad),
         '--work-dir', str(tmp_path / 'work')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert ("head for task 'depth', but the train dataset "
            '(SyntheticMultiTaskDataset) loads only') in proc.stderr
    assert 'Traceback' not in proc.stderr


def assert_training_lowers_every_task_loss(cfg: Path, work_dir: Path):
    load_tool('train').main([
        str(cfg), '--work-dir', str(work_dir), '--cfg-options',
        'train_cfg.max_iters=40', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=100', 'randomness.seed=0'])
    records = [r for r in read_scalars(work_dir) if 'loss' in r]
    assert len(records) == 40
    for task in TASKS:
        first = sum(r[f'loss_{task}'] for r in records[:8]) / 8
        last = sum(r[f'loss_{task}'] for r in records[-8:]) / 8
        assert last < first, (task, first, last)


def test_training_lowers_every_task_loss(trained, tmp_path):
    cfg, _ = trained
    assert_training_lowers_every_task_loss(cfg, tmp_path)


@pytest.mark.parametrize('method', ['mtlora', 'tadformer'])
def test_mtlora_and_tadformer_lower_every_task_loss(method, trained,
                                                    tmp_path):
    """A short run of the synthetic config (tiny Swin, merged outputs)."""
    vmt_cfg, _ = trained
    base = f'configs/{method}/{method}_r16_swin_t_synthetic.py'
    cfg = tiny_config(tmp_path / 'tiny.py', vmt_cfg.parent / 'synthetic',
                      base=base, size='rank=4', channels=(32, 64, 128, 128))
    assert_training_lowers_every_task_loss(cfg, tmp_path / 'work')
