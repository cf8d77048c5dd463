"""Genericity (a plain nn.Module backbone), frozen BN, parameter report."""
import json
import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mmmtl.engine.hooks import ParamReportHook
from mmmtl.models.adapters import VMTAdapter, format_param_report, param_report
from toy_backbones import images

POINTS = {r'stages\.0\.mlp': 0, r'stages\.1\.mlp': 1}


def toy_vmt(layout='tokens', **kwargs):
    torch.manual_seed(0)
    cfg = dict(module=dict(type='ToyAdapterBackbone', layout=layout),
               tasks=('a', 'b', 'c'), bottleneck=4, targets=r'stages\.\d\.mlp',
               stage_points=POINTS, scale=0.5)
    cfg.update(kwargs)
    model = VMTAdapter(**cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('layout', ['tokens', 'nhwc'])
def test_task_features_on_plain_module_by_hand(layout):
    model = toy_vmt(layout).eval()
    layer = model.adapters['stages_0_mlp']
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    x = images(size=16)
    feats = model(x)
    stage = model.module.stages[0]
    z = stage.bn(model.module.embed(x)).permute(0, 2, 3, 1)  # (B, H, W, C)
    h = F.gelu(z @ layer.down.weight.t() + layer.down.bias)
    fc1, _, fc2 = stage.mlp  # called one by one: calling mlp runs its hook
    mlp = fc2(F.gelu(fc1(z)))
    for t, task in enumerate(model.tasks):
        a_t = (h * layer.gamma[t] + layer.beta[t]) @ layer.up.weight.t() + \
            layer.up.bias
        expected = (z + mlp + 0.5 * a_t).permute(0, 3, 1, 2)
        torch.testing.assert_close(feats[task][0], expected, rtol=1e-5,
                                   atol=1e-5)
    assert model.module.stages[0].layout == layout


def test_plain_module_needs_stage_points():
    with pytest.raises(ValueError, match='stage_points'):
        toy_vmt(stage_points=None)
    assert isinstance(toy_vmt(stage_points=None, task_features=None)(
        images(size=16)), list)


def test_frozen_batchnorm_stays_in_eval_mode():
    model = toy_vmt(trainable=[r'stages\.1\.bn'])
    model.train()
    assert model.training and not model.module.stages[0].bn.training
    assert model.module.stages[1].bn.training  # trainable BN trains
    running = model.module.stages[0].bn.running_mean.clone()
    model(images(size=16))
    assert torch.equal(model.module.stages[0].bn.running_mean, running)


def test_param_report_segmentor_like_model_and_hook(tmp_path):
    backbone = toy_vmt(trainable=[r'bn'])
    model = torch.nn.Module()
    model.backbone = backbone
    model.neck = None
    model.heads = torch.nn.ModuleDict(
        dict(a=torch.nn.Conv2d(8, 2, 1), b=torch.nn.Conv2d(8, 3, 1)))
    wrapped = sum(p.numel() for p in backbone.module.parameters())
    bn = sum(p.numel() for s in backbone.module.stages
             for p in s.bn.parameters())
    adapters = sum(p.numel() for p in backbone.adapters.parameters())
    report = param_report(model)
    assert report['backbone_total'] == wrapped
    assert report['wrapped_trainable'] == bn
    assert report['adapters'] == adapters
    assert report['backbone_trainable'] == bn + adapters == report['headline']
    assert report['heads'] == dict(a=18, b=27) and report['heads_total'] == 45
    assert report['total_trainable'] == bn + adapters + 45
    assert report['backbone_trainable_pct'] == pytest.approx(
        100 * (bn + adapters) / wrapped)
    mtlora = param_report(model, convention='mtlora')
    assert mtlora['headline'] == bn + adapters + 45
    assert 'decoders included' in mtlora['counts']
    assert 'head b' in format_param_report(report)
    with pytest.raises(ValueError, match='convention'):
        param_report(model, convention='paper')

    messages = []
    logger = logging.getLogger('param_report_test')
    logger.info = messages.append
    runner = SimpleNamespace(model=model, logger=logger,
                             work_dir=str(tmp_path))
    ParamReportHook().before_train(runner)
    saved = json.loads((tmp_path / 'param_report.json').read_text())
    assert saved['backbone_trainable'] == bn + adapters
    assert saved['heads'] == dict(a=18, b=27)
    assert 'trainable in backbone' in messages[0]
