"""Compacter / Compacter++ on a tiny mmseg Swin: PHM weights against the
explicit Kronecker sum, the shared factors (one tensor, gradients of every
layer), sites, counts, identity at init, training inside the segmentor."""
import copy

import pytest
import torch

from mmmtl.models.adapters import PHMProjection, PHMRule, param_report
from mmmtl.models.adapters.layers.phm import kronecker_sum
from mmmtl.registry import MODELS
from test_bottleneck import (NORMS, WIDTHS,
                             assert_backbone_training_lowers_the_loss,
                             plain_swin, randomise, segmentor)
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'normals')


def build(kind='Compacter', **kwargs):
    torch.manual_seed(0)
    cfg = dict(type=kind, module=tiny_swin(), tasks=TASKS, reduction=6)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def phm_projections(model):
    return [m for m in model.adapters.modules()
            if isinstance(m, PHMProjection)]


def test_kronecker_sum_by_hand():
    gen = torch.Generator().manual_seed(0)
    rule = torch.randn(3, 3, 3, generator=gen)
    factors = torch.randn(3, 2, 5, generator=gen)
    expected = sum(torch.kron(rule[i], factors[i]) for i in range(3))
    torch.testing.assert_close(kronecker_sum(rule, factors), expected)


@pytest.mark.parametrize('low_rank', [True, False])
def test_phm_projection_equals_explicit_kronecker_sum(low_rank):
    torch.manual_seed(0)
    rule = PHMRule(4)
    proj = PHMProjection(16, 8, rule, rank=2, low_rank=low_rank)
    with torch.no_grad():
        proj.bias.normal_()
    factors = (proj.s @ proj.t) if low_rank else proj.factors
    assert factors.shape == (4, 4, 2)
    weight = sum(torch.kron(rule.weight[i], factors[i]) for i in range(4))
    x = torch.randn(3, 7, 16)
    torch.testing.assert_close(proj(x), x @ weight + proj.bias)
    if low_rank:
        assert proj.s.shape == (4, 4, 2) and proj.t.shape == (4, 2, 2)
    up = PHMProjection(8, 16, rule, rank=2, low_rank=low_rank,
                       zero_init=True)
    assert torch.count_nonzero(up.matrix()) == 0


def test_gradients_of_two_layers_accumulate_into_the_shared_factors():
    torch.manual_seed(0)
    rule = PHMRule(4)
    first, second = PHMProjection(16, 8, rule), PHMProjection(8, 12, rule)
    x1, x2 = torch.randn(5, 16), torch.randn(5, 8)

    def grad(loss):
        rule.weight.grad = None
        loss.backward()
        return rule.weight.grad.clone()

    g1 = grad(first(x1).square().sum())
    g2 = grad(second(x2).sin().sum())
    both = grad(first(x1).square().sum() + second(x2).sin().sum())
    assert g1.abs().sum() > 0 and g2.abs().sum() > 0
    assert not torch.allclose(g1, g2)
    torch.testing.assert_close(both, g1 + g2)


@pytest.mark.parametrize('kind,parts', [
    ('Compacter', ('attn.w_msa', 'ffn.layers')),
    ('CompacterPlusPlus', ('ffn.layers', ))])
def test_sites_and_one_shared_rule(kind, parts):
    model = build(kind)
    blocks = [f'stages.{s}.blocks.{b}' for s in range(4) for b in range(2)]
    assert [(t, h.mode) for t, h, _ in model._sites] == [
        (f'{block}.{part}', 'sequential') for block in blocks
        for part in parts]
    rule = model.shared['phm_rule']
    projections = phm_projections(model)
    assert len(projections) == 2 * len(model._sites)
    assert all(p.rule is rule for p in projections)
    names = [n for n, _ in model.named_parameters() if 'phm_rule' in n]
    assert names == ['shared.phm_rule.weight']
    assert [k for k in model.state_dict() if 'phm_rule' in k] == names
    randomise(model)
    sum(f.square().sum() for f in model(images())).backward()
    assert rule.weight.grad is not None and rule.weight.grad.abs().sum() > 0


def compacter_adapter(d: int, k: int, r: int = 1) -> int:
    """Down and up PHM layers with rank-r factors: r (d + k) each, plus the
    biases (k, d)."""
    return 2 * r * (d + k) + k + d


@pytest.mark.parametrize('kind,per_block', [('Compacter', 2),
                                            ('CompacterPlusPlus', 1)])
def test_trainable_counts_by_hand(kind, per_block):
    n = 4
    model = build(kind)  # k = d / 6: 4, 8, 16, 32
    adapters = sum(2 * per_block * compacter_adapter(d, d // 6)
                   for d in WIDTHS) + n ** 3
    report = param_report(model)
    assert report['adapters'] == adapters
    assert report['wrapped_trainable'] == NORMS
    assert report['backbone_trainable'] == adapters + NORMS
    full = build(kind, low_rank_phm=False)
    dense = sum(2 * per_block * (2 * d * (d // 6) // n + d + d // 6)
                for d in WIDTHS) + n ** 3
    assert param_report(full)['adapters'] == dense
    rank2 = build(kind, phm_rank=2)
    assert param_report(rank2)['adapters'] == sum(
        2 * per_block * compacter_adapter(d, d // 6, 2)
        for d in WIDTHS) + n ** 3


@pytest.mark.parametrize('kind', ['Compacter', 'CompacterPlusPlus'])
def test_identity_at_init_and_state_dict_keys(kind):
    model = build(kind).eval()
    plain = plain_swin(model)
    x = images()
    with torch.no_grad():
        for a, b in zip(model(x), plain(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert list(model.module.state_dict()) == list(plain.state_dict())


def test_bottleneck_is_a_multiple_of_n():
    model = build(reduction=24)  # 24 // 24 = 1 -> n; 192 // 24 = 8
    hidden = {p.out_features for p in phm_projections(model)
              if not p.zero_init}
    assert hidden == {4, 8}
    with pytest.raises(ValueError, match='divisible by phm_dim'):
        build(phm_dim=5)


def test_deepcopy_shares_the_copied_rule():
    model = build()
    clone = copy.deepcopy(model)
    rule = clone.shared['phm_rule']
    assert rule is not model.shared['phm_rule']
    assert all(p.rule is rule for p in phm_projections(clone))


def test_short_segmentor_run_lowers_the_loss():
    model = segmentor(dict(type='CompacterPlusPlus', reduction=6))
    assert_backbone_training_lowers_the_loss(model)
    assert model.backbone.shared['phm_rule'].weight.grad.abs().sum() > 0
