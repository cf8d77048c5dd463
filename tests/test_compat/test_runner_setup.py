"""Device-dependent config fixes shared by tools/train.py and tools/test.py."""
import pytest
import torch
from mmengine.config import Config

from mmmtl.apis import prepare_config, replace_sync_bn


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
