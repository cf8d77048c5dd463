"""The generic mechanism: finding modules, hook modes, removal, deepcopy."""
import copy

import pytest
import torch
from torch import nn

from mmmtl.models.adapters import (AdaptedBackbone, AdapterHook, attach,
                                   detach, find_modules, to_feature_layout)
from mmmtl.registry import MODELS
from toy_backbones import ToyAdapterBackbone, images


class Scale(nn.Module):
    """A trivial adapter: multiplies by a learned scalar (init 0)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))

    def reset_parameters(self):
        nn.init.zeros_(self.weight)

    def forward(self, x):
        return self.weight * x


class ToyLoRA(nn.Module):
    """Rank-r LoRA branch for a Linear (d_in -> d_out), B zero-init."""

    def __init__(self, d_in, d_out, rank=2):
        super().__init__()
        self.a = nn.Linear(d_in, rank, bias=False)
        self.b = nn.Linear(rank, d_out, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        self.a.reset_parameters()
        nn.init.zeros_(self.b.weight)

    def forward(self, x):
        return self.b(self.a(x))


@MODELS.register_module(force=True)
class ToyLoRABackbone(AdaptedBackbone):
    """A whole method in a few lines: LoRA on every MLP Linear."""

    def insert_adapters(self):
        for name, linear in find_modules(self.module, r'stages\.\d+\.mlp\.\d'):
            if isinstance(linear, nn.Linear):
                self.add_adapter(name, ToyLoRA(linear.in_features,
                                               linear.out_features),
                                 mode='wrap')


def test_find_modules_fullmatch_and_error():
    toy = ToyAdapterBackbone()
    names = [n for n, _ in find_modules(toy, r'stages\.\d+\.mlp')]
    assert names == ['stages.0.mlp', 'stages.1.mlp']
    with pytest.raises(ValueError, match=r'blocks.*matches no module.*'
                       r'examples: embed, stages'):
        find_modules(toy, r'blocks\.\d+')
    with pytest.raises(ValueError, match='stages.0.mlp'):
        find_modules(toy, 'mlp')  # fullmatch: a bare substring is no match


@pytest.mark.parametrize('mode', ['parallel', 'sequential', 'wrap'])
def test_hook_modes(mode):
    torch.manual_seed(0)
    linear = nn.Linear(4, 4)
    adapter = Scale()
    with torch.no_grad():
        adapter.weight.fill_(0.5)
    attach(linear, AdapterHook(adapter, mode=mode))
    x = torch.randn(3, 4)
    plain = x @ linear.weight.t() + linear.bias
    expected = 0.5 * plain if mode == 'sequential' else plain + 0.5 * x
    torch.testing.assert_close(linear(x), expected)


def test_wrap_needs_linear_and_bad_mode():
    with pytest.raises(TypeError, match='nn.Linear'):
        attach(nn.GELU(), AdapterHook(Scale(), mode='wrap'))
    with pytest.raises(ValueError, match='serial'):
        AdapterHook(Scale(), mode='serial')


def test_input_key_for_keyword_calls():
    class KwModule(nn.Module):
        def forward(self, *, x):
            return 2 * x

    module, adapter = KwModule(), Scale()
    with torch.no_grad():
        adapter.weight.fill_(1.0)
    attach(module, AdapterHook(adapter, input_key='x'))
    x = torch.ones(2)
    torch.testing.assert_close(module(x=x), 3 * x)
    module2 = KwModule()
    attach(module2, AdapterHook(adapter))
    with pytest.raises(KeyError, match='input_key'):
        module2(x=x)


def test_wrapper_keeps_backbone_keys_and_detaches():
    torch.manual_seed(0)
    model = ToyLoRABackbone(module=dict(type='ToyAdapterBackbone'),
                            tasks=('a', ))
    plain = ToyAdapterBackbone()
    assert set(model.module.state_dict()) == set(plain.state_dict())
    plain.load_state_dict(model.module.state_dict())
    assert len(model.adapters) == 4
    with torch.no_grad():
        for adapter in model.adapters.values():
            adapter.b.weight.fill_(0.1)
    x = images()
    plain.eval(), model.eval()
    assert not torch.allclose(model(x)[0], plain(x)[0])
    bare = model.remove_adapters()
    for a, b in zip(bare(x), plain(x)):
        assert torch.equal(a, b)


def test_deepcopy_rebinds_hooks_to_copied_adapters():
    torch.manual_seed(0)
    model = ToyLoRABackbone(module=dict(type='ToyAdapterBackbone'),
                            tasks=('a', )).eval()
    x = images()
    before = [f.clone() for f in model(x)]
    clone = copy.deepcopy(model)
    for a, b in zip(clone(x), before):
        assert torch.equal(a, b)
    with torch.no_grad():
        for adapter in clone.adapters.values():
            adapter.b.weight.fill_(0.3)
    changed = clone(x)
    assert not torch.allclose(changed[0], before[0])
    for a, b in zip(model(x), before):  # the original is untouched
        assert torch.equal(a, b)
    clone.remove_adapters()
    for a, b in zip(clone.module(x), before):
        assert torch.equal(a, b)


def test_detach_unknown_hook_is_noop():
    linear = nn.Linear(2, 2)
    detach(linear, AdapterHook(Scale()))
    assert len(linear._forward_hooks) == 0


def test_task_errors():
    with pytest.raises(ValueError, match='non-empty'):
        ToyLoRABackbone(module=dict(type='ToyAdapterBackbone'), tasks=())
    with pytest.raises(ValueError, match='duplicates'):
        ToyLoRABackbone(module=dict(type='ToyAdapterBackbone'),
                        tasks=('a', 'a'))
    model = ToyLoRABackbone(module=dict(type='ToyAdapterBackbone'),
                            tasks=('a', 'b'))
    assert model.task_index('b') == 1
    with pytest.raises(KeyError, match="'depth'"):
        model.task_index('depth')


def test_to_feature_layout():
    feat = torch.zeros(2, 5, 3, 4)
    nchw = torch.randn(2, 5, 3, 4)
    nhwc = nchw.permute(0, 2, 3, 1)
    tokens = nchw.flatten(2).transpose(1, 2)
    for residual in (nchw, nhwc, tokens):
        assert torch.equal(to_feature_layout(residual, feat, 's'), nchw)
    with pytest.raises(ValueError, match="'site.x'"):
        to_feature_layout(torch.zeros(2, 7, 5), feat, 'site.x')
