"""Bottleneck adapters (Houlsby / ffn / parallel) and low-rank adapters on a
tiny mmseg Swin: sites, block equations by hand, identity at init, counts,
freezing, state-dict keys, training inside the segmentor."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

from mmmtl.models.adapters import LowRankProjection, param_report
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'normals')
WIDTHS = (24, 48, 96, 192)  # tiny Swin, two blocks a stage
# Every LayerNorm of the tiny Swin: patch embedding, norm1/norm2 of each
# block, the three patch-merging norms (4d) and the four output norms.
NORMS = 2 * 24 + sum(2 * 2 * 2 * d + 2 * d for d in WIDTHS) + sum(
    2 * 4 * d for d in WIDTHS[:3])


def build(kind='BottleneckAdapter', **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dict(type=kind, module=tiny_swin(), tasks=TASKS,
                              **kwargs))
    model.init_weights()
    return model


def randomise(model: nn.Module, seed: int = 0, std: float = 0.2) -> None:
    """Random values for every adapter parameter (up is zero at init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in list(model.adapters.parameters()) + list(
                model.shared.parameters()):
            p.copy_(std * torch.randn(p.shape, generator=gen))


def plain_swin(model) -> nn.Module:
    """A plain tiny Swin with the adapted model's backbone weights."""
    plain = MODELS.build(tiny_swin())
    plain.load_state_dict(model.module.state_dict())
    plain.eval()  # mmseg Swin's train() returns None
    return plain


def dense_adapter(d: int, k: int) -> int:
    return 2 * d * k + k + d


def low_rank_adapter(d: int, k: int, r: int) -> int:
    return 2 * r * (d + k) + k + d


@pytest.mark.parametrize('placement,sites', [
    ('houlsby', [('attn.w_msa', 'sequential'), ('ffn.layers', 'sequential')]),
    ('ffn', [('ffn.layers', 'sequential')]),
    ('parallel', [('ffn.layers', 'parallel')]),
])
def test_insertion_points(placement, sites):
    model = build(placement=placement)
    blocks = [f'stages.{s}.blocks.{b}' for s in range(4) for b in range(2)]
    expected = [(f'{block}.{part}', mode) for block in blocks
                for part, mode in sites]
    assert [(t, h.mode) for t, h, _ in model._sites] == expected
    for target, hook, index in model._sites:
        assert index is None
        assert hook in model.module.get_submodule(
            target)._forward_hooks.values()
        assert hook.adapter.residual == (hook.mode == 'sequential')
    assert not model.emits_task_features


@pytest.mark.parametrize('placement,reduction,sites_per_block,norms', [
    ('houlsby', 4, 2, NORMS), ('ffn', 4, 1, NORMS), ('parallel', 2, 1, 0)])
def test_trainable_counts_by_hand(placement, reduction, sites_per_block,
                                  norms):
    model = build(placement=placement, reduction=reduction)
    adapters = sum(2 * sites_per_block * dense_adapter(d, d // reduction)
                   for d in WIDTHS)
    report = param_report(model)
    assert report['adapters'] == adapters
    assert report['wrapped_trainable'] == norms
    assert report['backbone_trainable'] == adapters + norms
    low = build('LowRankAdapter', rank=2, reduction=6)
    expected = sum(2 * 2 * low_rank_adapter(d, d // 6, 2) for d in WIDTHS)
    assert param_report(low)['adapters'] == expected
    assert param_report(low)['wrapped_trainable'] == NORMS


@pytest.mark.parametrize('cfg', [
    dict(placement='houlsby'), dict(placement='ffn'),
    dict(placement='parallel'), dict(kind='LowRankAdapter', rank=2)])
def test_identity_at_init_and_state_dict_keys(cfg):
    model = build(**cfg).eval()
    plain = plain_swin(model)
    x = images()
    with torch.no_grad():
        for a, b in zip(model(x), plain(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert list(model.module.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(model.module.state_dict(), strict=True)
    for layer in model.adapters.values():
        assert torch.count_nonzero(layer.up.matrix()) == 0
        assert torch.count_nonzero(layer.down.matrix()) > 0


def block_by_hand(model, stage, block, x, hw):
    """The adapted block computed from the plain block and the adapters."""
    name = f'stages.{stage}.blocks.{block}'
    plain = plain_swin(model).stages[stage].blocks[block]
    adapters = {site: model.adapters[model._key(f'{name}.{site}')]
                for site in ('attn.w_msa', 'ffn.layers')
                if model._key(f'{name}.{site}') in model.adapters}
    attn = plain.attn(plain.norm1(x), hw)
    if 'attn.w_msa' in adapters:
        attn = attn + adapters['attn.w_msa'].delta(attn)
    h = x + attn
    u = plain.norm2(h)
    mlp = plain.ffn.layers(u)
    if model.placement == 'parallel':
        return h + mlp + adapters['ffn.layers'].delta(u)
    return h + mlp + adapters['ffn.layers'].delta(mlp)


@pytest.mark.parametrize('placement', ['houlsby', 'ffn', 'parallel'])
def test_shifted_block_equations_by_hand(placement):
    """Block 1 of stage 0 (shifted windows): the attention adapter acts on
    the window outputs and commutes with the reverse and cyclic shift."""
    model = build(placement=placement).eval()
    randomise(model)
    x = torch.randn(2, 64, 24, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model.module.stages[0].blocks[1](x, (8, 8))
        expected = block_by_hand(model, 0, 1, x, (8, 8))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(out, plain_swin(model).stages[0].blocks[1](
        x, (8, 8)), atol=1e-3)


def test_gradients_reach_adapters_and_norms_only():
    model = build(placement='houlsby')
    randomise(model)
    sum(f.square().sum() for f in model(images())).backward()
    for name, p in model.adapters.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.module.named_parameters():
        assert p.requires_grad == ('norm' in name), name
        assert (p.grad is not None) == ('norm' in name), name


def test_low_rank_projection_by_hand():
    proj = LowRankProjection(12, 8, rank=3)
    assert proj.left.shape == (8, 3) and proj.right.shape == (3, 12)
    with torch.no_grad():
        proj.bias.normal_()
    x = torch.randn(5, 12)
    expected = x @ (proj.left @ proj.right).t() + proj.bias
    torch.testing.assert_close(proj(x), expected)
    assert torch.linalg.matrix_rank(proj.matrix()) == 3
    up = LowRankProjection(8, 12, rank=3, zero_init=True)
    assert torch.count_nonzero(up.matrix()) == 0
    assert torch.count_nonzero(up.right) > 0


def test_deepcopy_hooks_call_the_copied_adapters():
    model = build().eval()
    clone = copy.deepcopy(model)
    randomise(clone)
    x = images()
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], plain_swin(model)(x)[0],
                                   rtol=0, atol=1e-6)
        assert not torch.allclose(clone(x)[0], model(x)[0], atol=1e-3)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='placement'):
        build(placement='pfeiffer')
    with pytest.raises(ValueError, match='activation'):
        build(act='tanh')
    with pytest.raises(ValueError, match='reduction'):
        build(reduction=0)
    with pytest.raises(TypeError, match='backbone support'):
        MODELS.build(dict(type='BottleneckAdapter', tasks=TASKS,
                          module=dict(type='ToyAdapterBackbone')))


def segmentor(backbone: dict) -> nn.Module:
    """A tiny MultiTaskSegmentor (semseg, normals) on ``backbone``."""
    torch.manual_seed(0)

    def head(out_channels):
        return dict(type='MultiScaleFusionHead', in_channels=list(WIDTHS),
                    out_channels=out_channels, channels=(4, 4, 4, 4))

    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        backbone=dict(backbone, module=tiny_swin()),
        tasks=dict(
            semseg=dict(head=head(5), loss=dict(type='PixelCrossEntropyLoss')),
            normals=dict(head=head(3), loss=dict(type='NormalsL1Loss')))))
    model.init_weights()
    return model


def samples(batch: int = 2, size: int = 32):
    """Learnable targets: one class and one unit normal per image."""
    gen = torch.Generator().manual_seed(1)
    out = []
    for i in range(batch):
        sample = MultiTaskDataSample()
        normal = F.normalize(torch.randn(3, 1, 1, generator=gen), dim=0)
        sample.gt_maps = PixelData(
            semseg=torch.full((1, size, size), i + 1),
            normals=normal.expand(3, size, size).clone())
        sample.set_metainfo(dict(img_shape=(size, size),
                                 ori_shape=(size, size),
                                 pad_shape=(size, size),
                                 batch_input_shape=(size, size)))
        out.append(sample)
    return out


def assert_backbone_training_lowers_the_loss(model, steps: int = 5,
                                             lr: float = 1e-2) -> None:
    """Adam on the backbone's trainable parameters alone (adapters, norms;
    the decoders stay fixed) lowers the segmentor's total loss by 10 %."""
    x, data = images(), samples()
    params = [p for p in model.backbone.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=lr)
    first = last = None
    for _ in range(steps + 1):
        loss = sum(model(x, data, mode='loss').values())
        first = loss.item() if first is None else first
        last = loss.item()
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert last < 0.9 * first, (first, last)


@pytest.mark.parametrize('backbone', [
    dict(type='BottleneckAdapter', placement='houlsby'),
    dict(type='BottleneckAdapter', placement='parallel'),
    dict(type='LowRankAdapter', rank=1, reduction=6)])
def test_short_segmentor_run_lowers_the_loss(backbone):
    model = segmentor(backbone)
    assert model.backbone.tasks == TASKS
    assert_backbone_training_lowers_the_loss(model)
