"""Every public config trains and evaluates at a tiny size.

Each config under ``configs/`` (except ``_base_``) is loaded as a user would
load it, shrunk (tiny Swin, 32x32 inputs, 2 iterations or 1 epoch of 2) and
pointed at a dataset written at test time in the real on-disk format of its
dataset: PASCAL-Context and NYUD-v2 fixtures, or a tiny generated synthetic
dataset. It then trains through the runner ``tools/train.py`` builds,
validates, and saves checkpoints.
"""
import json
import math
from pathlib import Path

import pytest
from mmengine.config import Config

from mmmtl.apis.runner_setup import default_work_dir
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.engine import build_runner
from repo_files import REPO, load_module

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)
TINY_SWIN = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                 window_size=2, drop_path_rate=0.0, pretrained=None)
SIZE = 32
# A tiny ViT (patch 8: a 4x4 token grid at SIZE) for timm ViT configs.
TINY_VIT = dict(img_size=SIZE, patch_size=8, embed_dim=32, depth=8,
                num_heads=1, drop_path_rate=0.0)
# Method options shrunk with the backbone (when a config sets them).
TINY_METHOD = dict(bottleneck=4, rank=2, embed_dim=4, hidden_dim=8,
                   proj_dim=4, num_prompts=2)


def _load_fixtures():
    return load_module('tests/test_datasets/dataset_fixtures.py')


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    fixtures = _load_fixtures()
    base = tmp_path_factory.mktemp('config_data')
    fixtures.write_pascal(base / 'PASCALContext')
    fixtures.write_nyud(base / 'NYUDv2')
    generate_synthetic_dataset(str(base / 'synthetic'), num_train=4,
                               num_val=2, size=SIZE, seed=0)
    return dict(PascalContextMTDataset=base / 'PASCALContext',
                NYUDv2MTDataset=base / 'NYUDv2',
                SyntheticMultiTaskDataset=base / 'synthetic')


def _shrink_pipeline(pipeline) -> None:
    for step in pipeline:
        if step['type'] in ('MultiTaskResize',
                            'MultiTaskRandomScaleRotateResize'):
            step['scale'] = (SIZE, SIZE)


def shrink(cfg: Config, data_roots: dict, work_dir: Path) -> Config:
    """Tiny model, tiny data, 2 training iterations; everything else as
    configured. Returns the config and the checkpoint file training
    writes."""
    backbone = cfg.model.backbone
    inner = backbone.module if 'module' in backbone else backbone
    if inner.type == 'TimmMultiScaleBackbone':
        inner.model_kwargs.update(TINY_VIT)
        taps = len(inner.out_indices)
        inner.out_indices = tuple(range(8 // taps - 1, 8, 8 // taps))
        inner.checkpoint = None
    else:
        inner.update(TINY_SWIN)
    backbone.update({k: v for k, v in TINY_METHOD.items() if k in backbone})
    for task in cfg.model.tasks.values():
        task.head.channels = [4, 4, 4, 4]
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        dataset = loader.dataset
        dataset.data_root = str(data_roots[dataset.type])
        if dataset.type == 'SyntheticMultiTaskDataset':
            dataset.update(num_train=4, num_val=2, size=SIZE)
        else:  # the fixtures' train split has every task on some image
            dataset.split = 'train'
        _shrink_pipeline(dataset.pipeline)
    if cfg.train_cfg.type == 'EpochBasedTrainLoop':
        cfg.train_cfg.update(max_epochs=1, val_interval=1)
        cfg.default_hooks.checkpoint.interval = 1
        checkpoint = 'epoch_1.pth'
    else:
        cfg.train_cfg.update(max_iters=2, val_interval=2)
        cfg.default_hooks.checkpoint.interval = 2
        checkpoint = 'iter_2.pth'
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    return cfg, checkpoint


def test_there_are_public_configs():
    names = {p.name for p in CONFIGS}
    assert 'vmt_swin_t_pascal.py' in names
    assert 'vmt_swin_t_synthetic.py' in names
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize('config', CONFIGS,
                         ids=[str(p.relative_to(REPO / 'configs'))
                              for p in CONFIGS])
def test_config_trains_and_evaluates_tiny(config, data_roots, tmp_path):
    cfg, checkpoint = shrink(Config.fromfile(str(config)), data_roots,
                             tmp_path)
    tasks = list(cfg.model.tasks)
    runner = build_runner(cfg)
    runner.train()
    hub = runner.message_hub
    for task in tasks:
        keys = [k for k in hub.log_scalars if k.startswith(f'val/{task}/')]
        assert keys, f'no validation metric for {task}'
        assert all(math.isfinite(hub.get_scalar(k).current()) for k in keys)
        assert math.isfinite(hub.get_scalar(f'train/loss_{task}').current())
    baselines = cfg.val_evaluator.get('baselines') or {}
    if set(baselines) & set(tasks):
        assert math.isfinite(hub.get_scalar('val/delta_m').current())
    assert (tmp_path / checkpoint).is_file()
    report = json.loads((tmp_path / 'param_report.json').read_text())
    adapted = 'module' in cfg.model.backbone
    if adapted:
        assert report['backbone_trainable'] < report['backbone_total']
        assert (report['backbone_trainable'] > 0) == (
            cfg.model.backbone.type != 'DecoderOnly')
    else:
        assert report['backbone_trainable'] == report['backbone_total']


@pytest.mark.parametrize('config', [
    'vmt/vmt_swin_t_pascal.py', 'vmt/vmt_swin_t_nyud.py',
    'tadformer/tadformer_r16_swin_t_pascal.py',
    'mtlora/mtlora_r64_swin_t_nyud.py'
])
def test_tools_train_and_test_on_real_format_fixtures(config, data_roots,
                                                      tmp_path):
    """tools/train.py then tools/test.py on PASCAL-Context / NYUD-v2 trees."""
    cfg, checkpoint = shrink(Config.fromfile(str(REPO / 'configs' / config)),
                             data_roots, tmp_path / 'work')
    cfg_file = tmp_path / 'tiny.py'
    cfg.dump(str(cfg_file))
    load_tool('train').main([str(cfg_file)])
    metrics = load_tool('test').main([
        str(cfg_file), str(tmp_path / 'work' / checkpoint), '--work-dir',
        str(tmp_path / 'test')])
    assert {k.split('/')[0] for k in metrics if '/' in k} == \
        set(cfg.model.tasks)
    assert math.isfinite(metrics['delta_m'])


def load_tool(name: str):
    return load_module(f'tools/{name}.py')


def test_configs_have_distinct_work_dirs():
    """Config names are unique, so default work dirs differ; a config
    that shares a name (the top-level configs/vmt_swin_t_pascal.py entry
    point) sets its own work_dir."""
    work_dirs = {}
    for path in CONFIGS:
        work_dir = Config.fromfile(str(path)).get('work_dir') or \
            default_work_dir(str(path))
        assert work_dir not in work_dirs, (path, work_dirs.get(work_dir))
        work_dirs[work_dir] = path
    names = [p.name for p in CONFIGS if p.parent.name != 'configs']
    assert sorted(names) == sorted(set(names))


def test_method_configs_write_the_task_list_once():
    """Leaves name their tasks only through the experiment bases (or, for
    single-task baselines, one `tasks=dict(_delete_=True, ...)`)."""
    for path in CONFIGS:
        text = path.read_text()
        assert 'train_dataloader' not in text, path
        assert "tasks=('" not in text and 'in_channels' not in text, path
