"""Peer parity with HF PEFT (``peft`` from PyPI): mmmtl's LoRA and DoRA on
a timm ViT-S, selected by regex ``targets``, against PEFT's LoRA / DoRA on
the same timm model and weights: the same trainable-parameter count,
outputs and gradients within 1e-5, and the same merged weights. The ViT's
feature pyramid is new (no checkpoint holds it), so both train it: mmmtl
by default, PEFT as a module to save."""
import copy

import peft  # a test requirement (requirements/tests.txt)
import pytest
import torch

from mmmtl.registry import MODELS

QKV = r'model\.model\.blocks\.\d+\.attn\.qkv'
MLP = r'model\.model\.blocks\.\d+\.mlp\.fc\d'
RANK, ALPHA = 4, 8.0


def vit_small() -> dict:
    return dict(type='TimmMultiScaleBackbone',
                model_name='vit_small_patch16_224', out_indices=(11, ),
                model_kwargs=dict(img_size=32))


def pair(kind: str):
    """(mmmtl wrapper, PEFT model) on one randomly initialised ViT-S, the
    low-rank factors of both set to the same random values."""
    torch.manual_seed(0)
    reference = MODELS.build(vit_small())
    ours = MODELS.build(dict(type=kind, module=vit_small(), tasks=('a', ),
                             rank=RANK, alpha=ALPHA, targets=[QKV, MLP]))
    ours.module.load_state_dict(reference.state_dict())
    ours.init_weights()  # DoRA's magnitude from the loaded weights
    config = peft.LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0,
                             target_modules=f'({QKV})|({MLP})',
                             use_dora=kind == 'DoRA',
                             modules_to_save=['pyramid'])
    theirs = peft.get_peft_model(copy.deepcopy(reference), config)
    generator = torch.Generator().manual_seed(1)
    sites = dict(ours.module.named_modules())
    matched = 0
    for name, module in theirs.base_model.model.named_modules():
        if not hasattr(module, 'lora_A'):
            continue
        site = ours.adapters[name.replace('.', '_')]
        a = torch.randn(site.lora_a.shape, generator=generator) * 0.1
        b = torch.randn(site.lora_b.shape, generator=generator) * 0.1
        with torch.no_grad():
            site.lora_a.copy_(a)
            site.lora_b.copy_(b)
            module.lora_A['default'].weight.copy_(a)
            module.lora_B['default'].weight.copy_(b)
        assert name in sites
        matched += 1
    assert matched == 12 * 3
    return ours, theirs


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize('kind', ['LoRA', 'DoRA'])
def test_counts_outputs_gradients_and_merge_equal_hf_peft(kind):
    ours, theirs = pair(kind)
    assert trainable(ours) == trainable(theirs) > 0
    assert trainable(ours) == theirs.get_nb_trainable_parameters()[0]
    ours.double(), theirs.double()  # parity of the maths, not of fp32 sums
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    out_ours, out_theirs = ours(x), theirs(x)
    assert len(out_ours) == len(out_theirs) == 4
    for mine, peer in zip(out_ours, out_theirs):
        torch.testing.assert_close(mine, peer, atol=1e-5, rtol=1e-5)
    probe = [torch.randn_like(o) for o in out_ours]
    sum((o * p).sum() for o, p in zip(out_ours, probe)).backward()
    sum((o * p).sum() for o, p in zip(out_theirs, probe)).backward()
    peer_modules = dict(theirs.base_model.model.named_modules())
    for key, site in ours.adapters.items():
        peer = next(m for n, m in peer_modules.items()
                    if n.replace('.', '_') == key)
        torch.testing.assert_close(site.lora_a.grad,
                                   peer.lora_A['default'].weight.grad,
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(site.lora_b.grad,
                                   peer.lora_B['default'].weight.grad,
                                   atol=1e-5, rtol=1e-4)
        if kind == 'DoRA':
            magnitude = peer.lora_magnitude_vector['default'].weight
            torch.testing.assert_close(site.magnitude.grad, magnitude.grad,
                                       atol=1e-5, rtol=1e-4)
    merged_ours = ours.merge_adapters().state_dict()
    merged_theirs = theirs.merge_and_unload().state_dict()
    assert merged_ours.keys() == merged_theirs.keys()
    for key, value in merged_ours.items():
        torch.testing.assert_close(value, merged_theirs[key], atol=1e-5,
                                   rtol=1e-5)


def test_targets_take_per_target_options_and_refuse_what_matches_nothing():
    model = MODELS.build(dict(
        type='LoRA', module=vit_small(), tasks=('a', ), rank=2,
        targets=[dict(type=QKV, rank=8, alpha=4.0), MLP]))
    qkv = model.adapters['model_model_blocks_0_attn_qkv']
    fc1 = model.adapters['model_model_blocks_0_mlp_fc1']
    assert (qkv.rank, qkv.scale) == (8, 0.5)
    assert (fc1.rank, fc1.scale) == (2, 2.0)
    assert len(model.adapters) == 36
    with pytest.raises(ValueError, match='matches no module'):
        MODELS.build(dict(type='LoRA', module=vit_small(), tasks=('a', ),
                          targets=[r'blocks\.\d+\.attn\.qkv']))
    with pytest.raises(ValueError, match='unknown option'):
        MODELS.build(dict(type='LoRA', module=vit_small(), tasks=('a', ),
                          targets=[dict(type=QKV, ranks=2)]))
    with pytest.raises(TypeError, match='not nn.Linear'):
        MODELS.build(dict(type='DoRA', module=vit_small(), tasks=('a', ),
                          targets=[r'model\.model\.blocks\.0\.attn']))
