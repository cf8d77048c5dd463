"""Device-dependent config fixes shared by tools/train.py and tools/test.py."""
import pytest
import torch
from mmengine.config import Config

from mmmtl.apis import load_config, prepare_config, replace_sync_bn
from repo_files import load_module


def _cfg():
    return Config(dict(
        model=dict(backbone=dict(norm_cfg=dict(type='SyncBN')),
                   heads=[dict(norm_cfg=dict(type='SyncBN')),
                          dict(norm_cfg=dict(type='BN'))]),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))


def test_replace_sync_bn_counts_and_rewrites():
    cfg = _cfg()
    assert replace_sync_bn(cfg._cfg_dict) == 2
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert cfg.model.heads[0].norm_cfg.type == 'BN'
    assert replace_sync_bn(cfg._cfg_dict) == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_prepare_config_on_cpu(tmp_path):
    cfg = prepare_config(_cfg(), config_path='configs/x/my_cfg.py')
    assert cfg.work_dir == './work_dirs/my_cfg'
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    cfg = prepare_config(_cfg(), config_path='a.py', work_dir=str(tmp_path))
    assert cfg.work_dir == str(tmp_path)
    with pytest.raises(SystemExit, match='--amp needs a CUDA device'):
        prepare_config(_cfg(), config_path='a.py', amp=True)


CONFIG = """
model = dict(type='M', backbone=dict(depths=[2, 2], out_indices=(0, 1)),
             neck=None)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=50)
train_dataloader = dict(batch_size=2, dataset=dict(
    type='D', data_root='data/x',
    pipeline=[dict(type='A'), dict(type='B', size_mismatch='error')]))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=50))
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text(CONFIG)
    return str(path)


def test_cfg_options_that_match_the_config_are_merged(config_file):
    cfg = load_config(config_file, {
        'train_cfg.max_iters': 40, 'randomness.seed': 0,
        'default_hooks.checkpoint.interval': 100,
        'train_dataloader.dataset.data_root': '/data/y',
        'train_dataloader.dataset.auto_generate': False,
        'train_dataloader.dataset.pipeline.1.size_mismatch': 'resize',
        'find_unused_parameters': True, 'load_from': 'a.pth',
        'model.backbone.depths': [1, 1]})
    assert cfg.train_cfg.max_iters == 40 and cfg.randomness.seed == 0
    assert cfg.default_hooks.checkpoint.interval == 100
    assert cfg.train_dataloader.dataset.data_root == '/data/y'
    assert cfg.train_dataloader.dataset.auto_generate is False
    assert cfg.train_dataloader.dataset.pipeline[1].size_mismatch == 'resize'
    assert cfg.find_unused_parameters is True and cfg.load_from == 'a.pth'
    assert cfg.model.backbone.depths == [1, 1]


@pytest.mark.parametrize('key,message', [
    ('train_cfg.max_iter', "'train_cfg' has no key 'max_iter'; did you mean "
     "'train_cfg.max_iters'?"),
    ('train_cfg.Max_iters', "did you mean 'train_cfg.max_iters'?"),
    ('default_hooks.checkpoint.intreval', "did you mean "
     "'default_hooks.checkpoint.interval'?"),
    ('max_iters', "'max_iters' is neither a top-level key of {cfg} nor a "
     'key the runner reads'),
    ('trian_cfg.max_iters', "nor a key the runner reads; did you mean "
     "'train_cfg'?"),
    ('train_dataloader.datset.data_root', "'train_dataloader' has no key "
     "'datset'; did you mean 'train_dataloader.dataset'?"),
    ('train_cfg.max_iters.value', "'train_cfg.max_iters' is 300 (type int), "
     "not a dict or list, so it has no key 'value'"),
    ('model.neck.type', "'model.neck' is None (type NoneType)"),
    ('train_dataloader.dataset.pipeline.2.type', "'train_dataloader.dataset"
     ".pipeline' is a list of 2 item(s), so '2' must be an index from 0 to "
     '1'),
])
def test_cfg_option_key_matching_nothing_is_named(config_file, key, message):
    with pytest.raises(KeyError) as err:
        load_config(config_file, {key: 1})
    text = err.value.args[0]
    assert text.startswith(f'--cfg-options key {key!r}: ')
    assert message.format(cfg=config_file) in text


def test_train_tool_exits_2_on_a_cfg_option_typo(config_file, capsys):
    tool = load_module('tools/train.py')
    with pytest.raises(SystemExit) as exit_info:
        tool.main([config_file, '--cfg-options', 'train_cfg.max_iter=40'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --cfg-options key 'train_cfg.max_iter'")
    assert "did you mean 'train_cfg.max_iters'?" in err
