"""Plain LoRA and DoRA on mmseg Swin: sites, equations, identity at init,
freezing and counts, merging into the plain backbone, training."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmmtl.models.adapters import (DoRALinear, LoRALinear, param_report,
                                   restore_module)
from mmmtl.models.adapters.mechanism.replace import AdaptedSite
from mmmtl.registry import MODELS
from tiny_segmentor import segmentor, train
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'normals')
WIDTHS = [24, 24, 48, 48, 96, 96, 192, 192]  # tiny Swin, two blocks a stage
ROLE_NAMES = dict(qkv='attn_w_msa_qkv', proj='attn_w_msa_proj',
                  fc1='ffn_layers_0_0', fc2='ffn_layers_1')
# d_in + d_out of each role, as a multiple of the block width d
ROLE_SIZES = dict(qkv=4, proj=2, fc1=5, fc2=5)
OUT_SIZES = dict(qkv=3, proj=1, fc1=4, fc2=1)


def build(kind='LoRA', **kwargs):
    torch.manual_seed(0)
    cfg = dict(type=kind, module=tiny_swin(), tasks=TASKS)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def plain_swin(model):
    """A plain tiny Swin holding the adapted model's backbone weights."""
    plain = MODELS.build(tiny_swin())
    plain.load_state_dict(model.module.state_dict())
    plain.eval()  # mmseg's SwinTransformer.train returns None
    return plain


def randomise(module: nn.Module, seed: int = 0, std: float = 0.1) -> None:
    """Add random values to every parameter (B is zero at init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(std * torch.randn(p.shape, generator=gen))


def block_names():
    return [f'stages_{i}_blocks_{j}' for i in range(4) for j in range(2)]


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_default_sites_are_every_qkv(kind):
    model = build(kind)
    targets = [f'stages.{i}.blocks.{j}.attn.w_msa.qkv' for i in range(4)
               for j in range(2)]
    assert model._replaced == targets
    assert list(model.adapters) == [t.replace('.', '_') for t in targets]
    for target in targets:
        site = model.module.get_submodule(target)
        assert isinstance(site, AdaptedSite)
        assert site.site_adapter is model.adapters[target.replace('.', '_')]
    replaced = [n for n, m in model.module.named_modules()
                if isinstance(m, AdaptedSite)]
    assert replaced == targets
    adapter = model.adapters[targets[0].replace('.', '_')]
    assert (adapter.rank, adapter.scale) == (4, 1.0)
    assert isinstance(adapter, LoRALinear if kind == 'LoRA' else DoRALinear)
    assert model.trainable_names == []


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_roles_rank_alpha_and_counts_by_hand(kind):
    roles = ('qkv', 'proj', 'fc1', 'fc2')
    model = build(kind, roles=roles, rank=2, alpha=8.0)
    assert sorted(model.adapters) == sorted(
        f'{b}_{ROLE_NAMES[r]}' for b in block_names() for r in roles)
    assert all(a.scale == 4.0 for a in model.adapters.values())
    # r (d_in + d_out) per layer, plus DoRA's magnitude (d_out)
    per_d = 2 * sum(ROLE_SIZES.values())
    if kind == 'DoRA':
        per_d += sum(OUT_SIZES.values())
    report = param_report(model)
    assert report['adapters'] == report['backbone_trainable'] == \
        per_d * sum(WIDTHS)
    assert report['wrapped_trainable'] == 0
    qkv_only = param_report(build(kind))['backbone_trainable']
    assert qkv_only == (4 * 4 + 3 * (kind == 'DoRA')) * sum(WIDTHS)


def test_trainable_groups_are_configurable():
    model = build('LoRA', trainable_groups=('norms', ))
    names = model.trainable_names
    assert names and all('norm' in n for n in names)
    assert 'stages.0.blocks.0.norm1.weight' in names
    with pytest.raises(ValueError, match='unknown trainable group'):
        build('LoRA', trainable_groups=('biases', ))
    with pytest.raises(ValueError, match='unknown linear role'):
        build('LoRA', roles=('query', ))
    with pytest.raises(ValueError, match='rank'):
        build('DoRA', rank=0)


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_identity_at_init_and_state_dict_keys(kind):
    """init_weights re-initialises the Swin first: DoRA's magnitudes must be
    the norms of those weights, not of the ones at construction."""
    model = build(kind).eval()
    plain = plain_swin(model)
    x = images()
    for a, b in zip(model(x), plain(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert list(model.module.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(model.module.state_dict(), strict=True)
    if kind == 'DoRA':
        qkv = plain.stages[1].blocks[0].attn.w_msa.qkv
        magnitude = model.adapters[
            'stages_1_blocks_0_attn_w_msa_qkv'].magnitude
        torch.testing.assert_close(magnitude, qkv.weight.norm(dim=1))


def test_lora_linear_merge_and_unmerge():
    layer = LoRALinear(6, 5, rank=3, scale=0.5)
    randomise(layer)
    base = nn.Linear(6, 5)
    original = base.weight.detach().clone()
    x = torch.randn(4, 6)
    adapted = layer.forward_site(base, x)
    layer.merge_into(base)
    torch.testing.assert_close(
        base.weight, original + 0.5 * layer.lora_b @ layer.lora_a)
    torch.testing.assert_close(base(x), adapted, rtol=0, atol=1e-6)
    layer.unmerge_from(base)
    torch.testing.assert_close(base.weight, original, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match='shape'):
        layer.merge_into(nn.Linear(5, 6))
    task_lora = LoRALinear(6, 5, rank=2, tasks=('a', 'b'), task_rank=1)
    assert not task_lora.mergeable
    with pytest.raises(ValueError, match='task LoRA'):
        task_lora.merge_into(base)


@pytest.mark.parametrize('detach_norm', [True, False])
def test_dora_linear_equation_and_gradient_by_hand(detach_norm):
    base = nn.Linear(6, 5)
    layer = DoRALinear(base, rank=2, scale=0.5, detach_norm=detach_norm)
    torch.testing.assert_close(layer.magnitude.detach(),
                               base.weight.norm(dim=1))
    randomise(layer)
    x = torch.randn(3, 7, 6)
    direction = base.weight + 0.5 * layer.lora_b @ layer.lora_a
    norm = direction.norm(dim=1, keepdim=True)
    if detach_norm:
        norm = norm.detach()
    expected = F.linear(x, layer.magnitude[:, None] * direction / norm,
                        base.bias)
    out = layer.forward_site(base, x)
    torch.testing.assert_close(out, expected)
    target = torch.randn(out.shape)
    params = [layer.lora_a, layer.lora_b, layer.magnitude]
    grads = torch.autograd.grad((out * target).sum(), params)
    wanted = torch.autograd.grad((expected * target).sum(), params)
    for g, w in zip(grads, wanted):
        torch.testing.assert_close(g, w)
    # the other choice gives other gradients for A and B
    other = DoRALinear(base, rank=2, scale=0.5,
                       detach_norm=not detach_norm)
    other.load_state_dict(layer.state_dict())
    other_grads = torch.autograd.grad(
        (other.forward_site(base, x) * target).sum(),
        [other.lora_a, other.lora_b])
    assert not torch.allclose(other_grads[0], grads[0])
    merged = nn.Linear(6, 5)
    merged.load_state_dict(base.state_dict())
    layer.merge_into(merged)
    torch.testing.assert_close(merged(x), out, rtol=0, atol=1e-6)
    torch.testing.assert_close(merged.weight.norm(dim=1),
                               layer.magnitude.detach())


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_merge_adapters_gives_the_same_outputs(kind):
    model = build(kind, roles=('qkv', 'proj', 'fc1', 'fc2')).eval()
    randomise(model.adapters)
    x = images()
    wrapper = copy.deepcopy(model)
    with torch.no_grad():
        expected = model(x)
        merged = wrapper.merge_adapters()
        outs = merged(x)
        through_wrapper = wrapper(x)  # the emptied wrapper runs it too
    assert merged is wrapper.module and len(wrapper.adapters) == 0
    assert type(merged).__name__ == 'SwinTransformer'
    for a, b in zip(through_wrapper, outs):
        assert torch.equal(a, b)
    assert not any(isinstance(m, AdaptedSite) for m in merged.modules())
    assert list(merged.state_dict()) == list(plain_swin(model).state_dict())
    for a, b in zip(outs, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    qkv = 'stages.2.blocks.1.attn.w_msa.qkv.weight'
    assert not torch.allclose(merged.state_dict()[qkv],
                              model.module.state_dict()[qkv])


def test_merge_adapters_refuses_what_cannot_merge_and_changes_nothing():
    mtlora = MODELS.build(dict(type='MTLoRA', module=tiny_swin(),
                               tasks=TASKS, rank=2, task_rank=1))
    weights = copy.deepcopy(mtlora.state_dict())
    with pytest.raises(TypeError) as error:
        mtlora.merge_adapters()
    message = str(error.value)
    assert "site 'stages.0.blocks.1.ffn.layers.1' (LoRALinear)" in message
    assert "hook at 'stages.0.blocks.1' (RegionEntry)" in message
    assert "'stages.0.blocks.0.attn.w_msa.qkv'" not in message
    assert len(mtlora.adapters) == 32 and mtlora._hooks
    for key, value in mtlora.state_dict().items():
        assert torch.equal(value, weights[key]), key
    vmt = MODELS.build(dict(type='VMTAdapter', module=tiny_swin(),
                            tasks=TASKS, bottleneck=4))
    with pytest.raises(TypeError, match='hook adapter at'):
        vmt.merge_adapters()


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_short_training_lowers_the_loss_and_trains_only_the_adapters(kind):
    model = segmentor(kind, roles=('qkv', 'fc2'))
    backbone = model.backbone
    frozen = copy.deepcopy(backbone.module.state_dict())
    first, last = train(model)
    assert last < 0.8 * first
    for key, value in backbone.module.state_dict().items():
        assert torch.equal(value, frozen[key]), key
    for name, adapter in backbone.adapters.items():
        assert adapter.lora_b.abs().sum() > 0, name
    # merged after training (B != 0): same features, same predictions
    backbone.eval()
    x = images()
    with torch.no_grad():
        expected = backbone(x)
        merged = copy.deepcopy(backbone).merge_adapters()
        for a, b in zip(merged(x), expected):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert not any(isinstance(m, AdaptedSite) for m in merged.modules())


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_the_adapters_alone_fit_shifted_features(kind):
    """Only the qkv sites train (default configuration): Adam towards a
    per-channel shifted copy of the initial features lowers the MSE."""
    model = build(kind)
    x = images()
    with torch.no_grad():
        start = model(x)
    gen = torch.Generator().manual_seed(2)
    targets = [f + torch.randn(1, f.shape[1], 1, 1, generator=gen)
               for f in start]
    optim = torch.optim.Adam(model.adapters.parameters(), lr=1e-2)
    losses = []
    for _ in range(6):
        optim.zero_grad()
        loss = sum(F.mse_loss(f, t) for f, t in zip(model(x), targets))
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0], losses


def test_remove_adapters_restores_the_frozen_backbone():
    model = build('DoRA').eval()
    randomise(model.adapters)
    x = images()
    plain = plain_swin(model)
    adapted = copy.deepcopy(model)
    target = 'stages.2.blocks.0.attn.w_msa.qkv'
    layer = adapted.module.get_submodule(target).base
    # the copy's DoRA reads the copy's layer (reset_parameters uses it)
    assert adapted.adapters[target.replace('.', '_')].frozen_layer is layer
    assert not torch.allclose(adapted(x)[0], plain(x)[0])
    restored = adapted.remove_adapters()
    for a, b in zip(restored(x), plain(x)):
        assert torch.equal(a, b)
    with pytest.raises(KeyError, match='not an adapter site'):
        restore_module(restored, 'stages.0.blocks.0.attn.w_msa.qkv')


def test_swin_t_counts_match_hand_derivation():
    """The PASCAL configs' counts: qkv of the 12 blocks of Swin-T, r = 4:
    r (d + 3 d) each, DoRA adds 3 d magnitudes; four decoders 1,801,472."""
    head = dict(type='MultiScaleFusionHead', in_channels=[96, 192, 384, 768])
    tasks = {t: dict(head=dict(head, out_channels=o),
                     loss=dict(type='PixelCrossEntropyLoss'))
             for t, o in dict(semseg=21, human_parts=7, saliency=1,
                              normals=3).items()}
    widths = [96] * 2 + [192] * 2 + [384] * 6 + [768] * 2
    for kind, per_d, total in (('LoRA', 16, 1_872_128),
                               ('DoRA', 19, 1_885_376)):
        model = MODELS.build(dict(
            type='MultiTaskSegmentor', tasks=tasks,
            backbone=dict(type=kind, module=dict(type='SwinTransformerMTL'))))
        report = param_report(model, 'mtlora')
        assert report['backbone_trainable'] == per_d * sum(widths)
        assert report['heads_total'] == 1_801_472
        assert report['total_trainable'] == total
