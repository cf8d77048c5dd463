"""Module replacement: keys, loading, nesting, restore, attribute access."""
import copy

import pytest
import torch
from torch import nn

from mmmtl.models.adapters import (AdaptedSite, LoRALinear, replace_module,
                                   restore_module)
from mmmtl.registry import MODELS
from toy_backbones import images, tiny_swin


class Doubling(nn.Module):
    """Site adapter: 2 * base(x) (+ a parameter so it has state)."""

    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(1))

    def reset_parameters(self):
        nn.init.zeros_(self.offset)

    def forward_site(self, base, x):
        return 2 * base(x) + self.offset


def two_layer():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(),
                         nn.Sequential(nn.Linear(6, 3)))


def test_replacement_keeps_state_dict_keys_both_ways():
    plain = two_layer()
    adapted = copy.deepcopy(plain)
    replace_module(adapted, '2.0', Doubling())
    replace_module(adapted, '0', Doubling())
    assert list(adapted.state_dict()) == list(plain.state_dict())
    assert '0.base.weight' in dict(adapted.named_parameters())
    other = two_layer()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    adapted.load_state_dict(other.state_dict())  # strict: keys line up
    assert torch.equal(adapted[0].base.weight, other[0].weight)
    plain.load_state_dict(adapted.state_dict())
    assert torch.equal(plain[2][0].bias, other[2][0].bias)


def test_site_calls_adapter_and_restores():
    model = two_layer()
    x = torch.randn(5, 4)
    before = model(x)
    site = replace_module(model, '2.0', Doubling())
    assert isinstance(model[2][0], AdaptedSite)
    assert site.in_features == 6 and site.weight is site.base.weight
    torch.testing.assert_close(model(x), 2 * before)
    with pytest.raises(KeyError, match='already replaced'):
        replace_module(model, '2.0', Doubling())
    restored = restore_module(model, '2.0')
    assert isinstance(restored, nn.Linear) and model[2][0] is restored
    torch.testing.assert_close(model(x), before)
    with pytest.raises(KeyError, match='not an adapter site'):
        restore_module(model, '2.0')


def test_adapter_without_forward_site_is_refused():
    with pytest.raises(TypeError, match='forward_site'):
        replace_module(two_layer(), '0', nn.ReLU())


def test_nested_replacement_inside_a_replaced_module():
    """A site inside a module that is itself replaced later, or earlier."""
    for order in (('2.0', '2'), ('2', '2.0')):
        model = two_layer()
        x = torch.randn(3, 4)
        before = model(x)
        for name in order:
            replace_module(model, name, Pass() if name == '2' else
                           Doubling())
        torch.testing.assert_close(model(x), 2 * before)
        assert list(model.state_dict()) == list(two_layer().state_dict())


class Pass(nn.Module):
    def forward_site(self, base, x):
        return base(x)


def test_lora_sites_in_swin_load_plain_checkpoints_and_init_like_it():
    """mmseg Swin: a plain checkpoint loads into the adapted backbone
    (strict) and, with zero B, the adapted backbone computes the same."""
    plain = MODELS.build(tiny_swin())
    plain.init_weights()
    adapted = MODELS.build(tiny_swin())
    for name, module in list(adapted.named_modules()):
        if name.endswith(('qkv', 'proj')):
            replace_module(adapted, name, LoRALinear(
                module.in_features, module.out_features, rank=2))
    adapted.load_state_dict(plain.state_dict())
    plain.eval()
    adapted.eval()
    for a, b in zip(plain(images()), adapted(images())):
        assert torch.equal(a, b)
    table = 'stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    assert table in adapted.state_dict()
