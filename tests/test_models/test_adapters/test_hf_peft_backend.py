"""``HFPEFTAdapter``: HF PEFT tuners (VeRA, LoHa, OFT, IA3) injected into a
tiny timm ViT and a tiny mmseg Swin as one adapter shared by all tasks.

For each tuner and backbone: only PEFT's adapter parameters train and get
gradients, the trainable count equals PEFT's own on a ``PeftModel`` built
on an identical copy, the output at init equals the frozen backbone's (all
four are identity at init), state-dict keys are the plain backbone keys
plus the adapter keys, plain backbone weights load (directly and as the
backbone's pretrained file), a save/load round trip after a training step
gives identical outputs, the adapters merge into the plain backbone, and
adapter-only checkpoints hold the adapters and load over the base weights.
"""
import copy
import io
import math
import sys

import peft  # a test requirement (requirements/tests.txt)
import pytest
import timm
import torch
from torch import nn

from adapter_checkpoint_setup import write_config, write_pretrained_swin
from mmmtl.compat.checkpoint import load_local_checkpoint
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.engine.adapter_checkpoint import (ADAPTER_ONLY_KEY,
                                             is_adapter_checkpoint,
                                             load_adapter_checkpoint,
                                             make_adapter_only)
from mmmtl.engine.trained_state import trained_state_keys
from mmmtl.registry import MODELS
from repo_files import load_module

TINY_SWIN = dict(type='SwinTransformerMTL', embed_dims=16,
                 depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2,
                 drop_path_rate=0.0, pretrained=None)
VIT_KWARGS = dict(img_size=32, depth=2, embed_dim=64, num_heads=2)
TINY_VIT = dict(type='TimmMultiScaleBackbone',
                model_name='vit_small_patch16_224', out_indices=(1, ),
                model_kwargs=VIT_KWARGS)
BACKBONES = dict(swin=TINY_SWIN, vit=TINY_VIT)
ATTN = dict(swin=r'.*\.attn\.w_msa\.(qkv|proj)', vit=r'.*\.attn\.(qkv|proj)')
FFN = dict(swin=r'.*\.ffn\.layers\.1', vit=r'.*\.mlp\.fc2')
QKV = dict(swin=r'.*\.attn\.w_msa\.qkv', vit=r'.*\.attn\.qkv')
# (attention layers, MLP output layers) adapted per block.
LAYERS = dict(swin=4 * 2, vit=2 * 2)
METHODS = ('VeraConfig', 'LoHaConfig', 'OFTConfig', 'IA3Config')
PREFIXES = dict(VeraConfig='vera_lambda_', LoHaConfig='hada_',
                OFTConfig='oft_', IA3Config='ia3_')


def peft_config(kind: str, backbone: str) -> dict:
    if kind == 'IA3Config':
        return dict(type=kind,
                    target_modules=f'({QKV[backbone]})|({FFN[backbone]})',
                    feedforward_modules=FFN[backbone])
    if kind == 'OFTConfig':
        return dict(type=kind, r=0, oft_block_size=4,
                    target_modules=ATTN[backbone])
    return dict(type=kind, r=4, target_modules=ATTN[backbone])


def build(kind: str, backbone: str, seed: int = 0):
    """(adapted wrapper, plain backbone with the same weights)."""
    torch.manual_seed(seed)
    plain = MODELS.build(copy.deepcopy(BACKBONES[backbone]))
    plain.init_weights()
    model = MODELS.build(dict(type='HFPEFTAdapter',
                              module=copy.deepcopy(BACKBONES[backbone]),
                              tasks=('semseg', 'depth'),
                              peft_config=peft_config(kind, backbone)))
    model.init_weights()
    result = model.module.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert set(result.missing_keys) == adapter_keys(model)
    return model, plain


def adapter_keys(model) -> set:
    plain_keys = {k for k in model.module.state_dict()
                  if not any(part.startswith(p) for p in PREFIXES.values()
                             for part in k.split('.'))
                  and '.vera_A.' not in k and '.vera_B.' not in k}
    return set(model.module.state_dict()) - plain_keys


def trainable(model) -> dict:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def images(seed: int = 1) -> torch.Tensor:
    return torch.randn(2, 3, 32, 32,
                       generator=torch.Generator().manual_seed(seed))


def train_step(model) -> None:
    """One SGD step on a random target, large enough to move outputs."""
    model.train()
    optimizer = torch.optim.SGD(trainable(model).values(), lr=0.5)
    outs = model(images(2))
    loss = sum((o * torch.randn_like(o)).sum() for o in outs)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    model.eval()


def assert_same(outs_a, outs_b, atol=1e-6):
    assert len(outs_a) == len(outs_b) == 4
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)


@pytest.mark.parametrize('backbone', sorted(BACKBONES))
@pytest.mark.parametrize('kind', METHODS)
def test_counts_identity_at_init_gradients_and_keys(kind, backbone):
    model, plain = build(kind, backbone)
    assert len(model.peft_layers) == LAYERS[backbone]
    # what trains: exactly PEFT's adapter parameters, inside the backbone
    names = trainable(model)
    assert names and all(n.startswith('module.') for n in names)
    # the ViT's feature pyramid is new (no checkpoint holds it) and trains
    pyramid = {n for n in names if n.startswith('module.pyramid.')}
    assert bool(pyramid) == (backbone == 'vit')
    assert all(PREFIXES[kind] in n for n in names if n not in pyramid)
    ours = sum(p.numel() for p in names.values())
    args = {k: v for k, v in peft_config(kind, backbone).items()
            if k != 'type'}
    if pyramid:  # PEFT's way to train a whole module
        args['modules_to_save'] = ['pyramid']
    reference = peft.get_peft_model(copy.deepcopy(plain),
                                    getattr(peft, kind)(**args))
    assert ours == reference.get_nb_trainable_parameters()[0] > 0
    assert ours == sum(p.numel() for p in reference.parameters()
                       if p.requires_grad)
    # identity at init (VeRA: lambda_b = 0; LoHa: one factor 0; OFT: R = I;
    # IA3: scaling vectors of ones)
    model.eval(), plain.eval()
    x = images()
    with torch.no_grad():
        assert_same(model(x), plain(x))
    # gradients reach only the adapters
    model.train()
    outs = model(x)
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    for name, param in model.named_parameters():
        assert (param.grad is not None) == param.requires_grad, name
    assert any(p.grad.abs().sum() > 0 for p in names.values())
    # state dict: the plain keys plus the adapter keys
    state = model.state_dict()
    assert not [k for k in state if 'base_layer' in k]
    plain_keys = {f'module.{k}' for k in plain.state_dict()}
    extra = {f'module.{k}' for k in adapter_keys(model)}
    assert set(state) == plain_keys | extra
    assert {n for n in names if n not in pyramid} <= extra
    # the adapted backbone's non-adapter entries load strictly into the
    # plain backbone and are its weights
    base = {k: v for k, v in model.module.state_dict().items()
            if k not in adapter_keys(model)}
    fresh = MODELS.build(copy.deepcopy(BACKBONES[backbone]))
    fresh.load_state_dict(base, strict=True)
    for key, value in plain.state_dict().items():
        assert torch.equal(base[key], value), key


@pytest.mark.parametrize('backbone', sorted(BACKBONES))
@pytest.mark.parametrize('kind', METHODS)
def test_round_trip_after_a_training_step_and_merge(kind, backbone):
    model, plain = build(kind, backbone)
    train_step(model)
    x = images()
    with torch.no_grad():
        trained = model(x)
        assert any(not torch.allclose(a, b, atol=1e-4)
                   for a, b in zip(trained, plain.eval()(x)))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other, _ = build(kind, backbone, seed=5)
    other.load_state_dict(torch.load(buffer), strict=True)
    other.eval()
    with torch.no_grad():
        assert_same(other(x), trained, atol=0)
    merged = other.merge_adapters()
    assert type(merged) is type(plain)
    assert set(merged.state_dict()) == set(plain.state_dict())
    assert not other.peft_layers
    with torch.no_grad():
        assert_same(merged(x), trained, atol=1e-5)


@pytest.mark.parametrize('backbone', sorted(BACKBONES))
def test_plain_pretrained_file_loads_in_init_weights(backbone, tmp_path):
    """The backbone's own pretrained loading sees the plain backbone; the
    adapters keep PEFT's init."""
    torch.manual_seed(3)
    module = copy.deepcopy(BACKBONES[backbone])
    if backbone == 'swin':
        path = write_pretrained_swin(tmp_path / 'swin.pth', seed=3)
        module = dict(module, **dict(
            embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4]))
        module['pretrained'] = str(path)
    else:
        path = tmp_path / 'vit.pth'
        torch.save(timm.create_model('vit_small_patch16_224',
                                     pretrained=False,
                                     **VIT_KWARGS).state_dict(), path)
        module['checkpoint'] = str(path)
    plain = MODELS.build(copy.deepcopy(module))
    plain.init_weights()
    torch.manual_seed(4)  # other random init: the file must overwrite it
    model = MODELS.build(dict(type='HFPEFTAdapter', module=module,
                              tasks=('a', ),
                              peft_config=peft_config('VeraConfig',
                                                      backbone)))
    model.init_weights()
    state = model.module.state_dict()
    loaded = [k for k in plain.state_dict() if not k.startswith('pyramid.')]
    for key in loaded:  # the ViT's pyramid is not in the file
        assert torch.equal(state[key], plain.state_dict()[key]), key
    if backbone == 'vit':
        model.module.pyramid.load_state_dict(plain.pyramid.state_dict())
    model.eval(), plain.eval()
    with torch.no_grad():
        assert_same(model(images()), plain(images()))


@pytest.mark.parametrize('kind', METHODS)
def test_adapter_only_checkpoint_holds_the_adapters(kind):
    model, _ = build(kind, 'swin')
    train_step(model)
    model = nn.ModuleDict(dict(backbone=model))  # a segmentor's layout
    keys = trained_state_keys(model)
    assert {n for n in trainable(model)} <= set(keys)
    # no frozen weight is saved; buffers of modules holding an adapter
    # (Swin's relative_position_index, the VeRA projections) are, by the
    # trained-state rule (mmmtl.engine.trained_state)
    frozen = {f'backbone.module.{n}' for n, p in
              model.backbone.module.named_parameters()
              if not p.requires_grad}
    frozen = {k.replace('.base_layer.', '.') for k in frozen}
    assert frozen and not frozen & set(keys)
    assert all(PREFIXES[kind] in k or k.endswith('relative_position_index')
               or '.vera_A.' in k or '.vera_B.' in k for k in keys)
    checkpoint = make_adapter_only(dict(state_dict=model.state_dict()),
                                   model)
    assert is_adapter_checkpoint(checkpoint)
    assert set(checkpoint['state_dict']) == set(keys)
    fresh, _ = build(kind, 'swin')  # same base weights, adapters at init
    fresh = nn.ModuleDict(dict(backbone=fresh))
    load_adapter_checkpoint(fresh, checkpoint)
    fresh.eval()
    with torch.no_grad():
        assert_same(fresh.backbone(images()), model.backbone(images()),
                    atol=0)


def test_adapter_only_training_checkpoints_test_as_full(tmp_path, capsys):
    """tools/train.py with adapter-only checkpoints, then tools/test.py on
    them: the same scores as on the full checkpoints of the same run."""
    data_root = generate_synthetic_dataset(str(tmp_path / 'synthetic'),
                                           num_train=4, num_val=2, size=32)
    pretrained = write_pretrained_swin(tmp_path / 'swin.pth', seed=0)
    method = ("type='HFPEFTAdapter', peft_config=dict(type='VeraConfig', "
              "r=4, target_modules=r'.*\\.attn\\.w_msa\\.(qkv|proj)')")
    scores = {}
    for kind in ('full', 'adapter'):
        cfg = write_config(tmp_path / f'{kind}.py', data_root, pretrained,
                           method=method, adapter_only=kind == 'adapter',
                           max_iters=2)
        work_dir = tmp_path / kind
        load_module('tools/train.py').main([str(cfg), '--work-dir',
                                            str(work_dir)])
        checkpoint = load_local_checkpoint(str(work_dir / 'iter_2.pth'))
        assert is_adapter_checkpoint(checkpoint) == (kind == 'adapter')
        if kind == 'adapter':
            saved = checkpoint['meta'][ADAPTER_ONLY_KEY]['saved_keys']
            backbone = [k for k in saved if k.startswith('backbone.')]
            assert backbone and all(
                '.vera_' in k or k.endswith('relative_position_index')
                for k in backbone)
            full = load_local_checkpoint(str(tmp_path / 'full' /
                                             'iter_2.pth'))['state_dict']
            sizes = [sum(v.numel() for v in state.values())
                     for state in (checkpoint['state_dict'], full)]
            assert sizes[0] < 0.1 * sizes[1]
            assert 'HFPEFTAdapter' in checkpoint['meta'][ADAPTER_ONLY_KEY][
                'config']
        scores[kind] = load_module('tools/test.py').main([
            str(cfg), str(work_dir / 'iter_2.pth'), '--work-dir',
            str(tmp_path / f'test_{kind}')])
        assert isinstance(scores[kind], dict)
    assert set(scores['adapter']) == set(scores['full'])
    for key, value in scores['full'].items():
        if isinstance(value, float) and math.isfinite(value):
            assert scores['adapter'][key] == pytest.approx(value,
                                                           abs=1e-6), key


def test_config_errors_are_clear(monkeypatch):
    def make(**cfg):
        return MODELS.build(dict(type='HFPEFTAdapter', module=TINY_SWIN,
                                 tasks=('a', ), peft_config=cfg))

    with pytest.raises(ValueError, match=r'unknown peft_config type '
                       r"'VeraConfg'.*VeraConfig"):
        make(type='VeraConfg', r=4, target_modules=ATTN['swin'])
    with pytest.raises(ValueError, match='unknown peft_config type'):
        make(type='PeftModel', target_modules=ATTN['swin'])
    with pytest.raises(ValueError, match=r'needs target_modules.*w_msa'):
        make(type='LoHaConfig', r=4)
    with pytest.raises(ValueError, match='needs target_modules'):
        make(type='LoHaConfig', r=4, target_modules=None)
    with pytest.raises(ValueError, match=r'dict\(type='):
        MODELS.build(dict(type='HFPEFTAdapter', module=TINY_SWIN,
                          tasks=('a', ), peft_config=dict(r=4)))
    with pytest.raises(ValueError):  # PEFT: no module matches
        make(type='LoHaConfig', r=4, target_modules=r'blocks\.\d+\.qkv')
    monkeypatch.setitem(sys.modules, 'peft', None)
    with pytest.raises(ImportError, match='pip install peft'):
        make(type='LoHaConfig', r=4, target_modules=ATTN['swin'])


@pytest.mark.parametrize('kind', METHODS)
def test_param_report_counts_the_tuner_as_adapters(kind):
    from mmmtl.analysis import param_report
    model, plain = build(kind, 'swin')
    report = param_report(model)
    tuner = sum(p.numel() for p in model.injected_parameters())
    assert tuner > 0
    assert report['backbone_total'] == sum(
        p.numel() for p in plain.parameters())
    assert report['adapters'] == tuner
    assert report['backbone_trainable'] == sum(
        p.numel() for p in model.parameters() if p.requires_grad)
