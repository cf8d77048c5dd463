"""TADFormer: prompted attention, task filters, TPC, batched vs per-task
sites, prompts and gradients, counts, training."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mmmtl  # noqa: F401  (mmcv.ops stand-in before mmseg)
from mmmtl.models.adapters import (DynamicTaskFilter, StaticTaskFilter,
                                   TaskAwareLoRA, TaskContext, param_report)
from mmmtl.models.adapters.mechanism.context import activate
from mmmtl.models.adapters.methods.tadformer import \
    TaskPromptState as PromptState
from mmmtl.models.adapters.support import PromptedWindowAttention
from mmmtl.registry import MODELS
from toy_backbones import (assert_training_lowers_every_task_loss, images,
                           tiny_swin)
from mmseg.models.backbones.swin import WindowMSA  # noqa: E402

TASKS = ('semseg', 'human_parts', 'saliency')


def randomise(module: nn.Module, seed: int = 0, std: float = 0.05) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(std * torch.randn(p.shape, generator=gen))


def build(tasks=TASKS, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type='TADFormer', tasks=tasks, rank=4, dropout=0.0,
               module=tiny_swin(type='SwinTransformerMTL',
                                out_after_downsample=True))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def reference_prompted_attention(msa, x, prompts, mask):
    """Window attention over [prompts; x] written out by hand."""
    windows, n, c = x.shape
    p = prompts.shape[1]
    per_image = windows // prompts.shape[0]
    seq = torch.cat([prompts.repeat_interleave(per_image, 0), x], 1)
    heads = msa.num_heads
    q, k, v = (msa.qkv(seq).view(windows, p + n, 3, heads, c // heads)
               .permute(2, 0, 3, 1, 4))
    logits = q @ k.transpose(-2, -1)
    attn = logits * msa.scale
    bias = msa.relative_position_bias_table[
        msa.relative_position_index.view(-1)].view(n, n, heads).permute(
            2, 0, 1)
    attn[:, :, p:, p:] += bias
    if mask is not None:
        attn[:, :, p:, p:] += mask.repeat(windows // mask.shape[0], 1,
                                          1)[:, None]
    out = msa.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(
        windows, p + n, c))
    return out, logits[:, :, :p, p:]


@pytest.mark.parametrize('masked', [False, True])
def test_prompted_attention_by_hand(masked):
    torch.manual_seed(0)
    msa = WindowMSA(8, 2, (2, 2))
    nn.init.normal_(msa.relative_position_bias_table)
    x = torch.randn(6, 4, 8)  # 2 images x 3 windows of 2x2 tokens
    prompts = torch.randn(2, 3, 8)
    mask = (torch.randn(3, 4, 4) > 0).float() * -100 if masked else None
    site = PromptedWindowAttention()
    context = TaskContext(tasks=('a', ), batch_size=2)
    with activate(context):
        plain = site.forward_site(msa, x, mask)
        context.prompts = PromptState(tokens=prompts)
        out = site.forward_site(msa, x, mask)
    torch.testing.assert_close(plain, msa(x, mask))
    expected, logits = reference_prompted_attention(msa, x, prompts, mask)
    torch.testing.assert_close(out, expected[:, 3:])
    torch.testing.assert_close(context.prompts.logits, logits)
    torch.testing.assert_close(
        context.prompts.out, expected[:, :3].view(2, 3, 3, 8).mean(1))


def test_static_filter_is_a_conv_per_task():
    filt = StaticTaskFilter(3, 2)
    randomise(filt, std=0.5)
    x = torch.randn(2 * 4, 3, 5, 6)
    out = filt(x).view(2, 4, 3, 5, 6)
    for t, maps in enumerate(x.view(2, 4, 3, 5, 6)):
        expected = F.conv2d(maps, filt.weight[t], filt.bias[t], padding=1,
                            groups=3)
        torch.testing.assert_close(out[t], expected)


def test_dynamic_filter_kernels_by_hand_and_per_sample():
    filt = DynamicTaskFilter(3)
    x = torch.randn(4, 3, 5, 5)
    kernels = filt.kernels(x)
    raw = filt.conv(x.mean((2, 3), keepdim=True)).view(4, 3, 9)
    normed = (raw - raw.mean(2, keepdim=True)) / (
        raw.std(2, keepdim=True) + 1e-10)
    expected = normed.view(4, 27) * filt.norm_std + filt.norm_mean
    torch.testing.assert_close(kernels, expected.view(4, 3, 3, 3))
    assert not torch.allclose(kernels[0], kernels[1])
    out = filt(x)
    for n in range(4):
        torch.testing.assert_close(
            out[n:n + 1], F.conv2d(x[n:n + 1], kernels[n].unsqueeze(1),
                                   padding=1, groups=3))


def task_context(num_tasks, rows, hw=None):
    context = TaskContext(tasks=tuple(f't{i}' for i in range(num_tasks)),
                          batch_size=rows)
    context.enter_region()
    context.hw_shape = hw
    return context


@pytest.mark.parametrize('task_filter', ['dynamic', 'static'])
def test_task_aware_site_batched_equals_per_task_and_equations(task_filter):
    """fc-type site: W x_shared + b + s B F_t(A x_t) per task stream, the
    tasks batched; checked against one call per task."""
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    site = TaskAwareLoRA(6, 5, rank=2, scale=0.5, dropout=0.0, num_tasks=3,
                         task_filter=task_filter)
    randomise(site, std=0.3)
    x = torch.randn(4, 2, 6, 6)  # 4 streams of (B=2, 3x2 map, 6 channels)
    with activate(task_context(3, 2, (3, 2))) as context:
        out = context.split(site.forward_site(base, x.view(8, 6, 6)))
    shared = base(x[0]) + 0.5 * x[0] @ site.lora_a.t() @ site.lora_b.t()
    torch.testing.assert_close(out[0], shared)
    for t in range(3):
        low = (x[1 + t] @ site.lora_a.t()).view(2, 3, 2, 2).permute(
            0, 3, 1, 2)
        if task_filter == 'static':
            filtered = F.conv2d(low, site.filter.weight[t],
                                site.filter.bias[t], padding=1, groups=2)
        else:
            filtered = site.filter(low)
        expected = base(x[0]) + 0.5 * filtered.permute(0, 2, 3, 1).reshape(
            2, 6, 2) @ site.lora_b.t()
        torch.testing.assert_close(out[1 + t], expected)


def test_tpc_at_proj_by_hand():
    """proj-type site: prompts first, z_t = LN(x + gelu(logit_t) * x) per
    head, per-window filter; the skip feature goes to the context."""
    torch.manual_seed(0)
    heads, prompts, tokens, channels = 2, 3, 4, 6
    base = nn.Linear(channels, channels)
    site = TaskAwareLoRA(channels, channels, rank=2, scale=1.0, dropout=0.0,
                         num_tasks=3, task_filter='static', num_heads=heads,
                         rows='windows')
    randomise(site, std=0.3)
    x = torch.randn(4, 5, prompts + tokens, channels)  # 5 windows per stream
    logits = torch.randn(4 * 5, heads, prompts, tokens)
    context = task_context(3, 5)
    context.prompts = PromptState(tokens=torch.zeros(1, prompts, channels),
                                  logits=logits)
    with activate(context):
        out = context.split(site.forward_site(
            base, x.view(20, prompts + tokens, channels)))
    frozen = base(x[0])
    torch.testing.assert_close(out[1:, :, :prompts],
                               (frozen + x[0] @ site.lora_a.t() @
                                site.lora_b.t())[:, :prompts].expand(
                                    3, 5, prompts, channels))
    for t in range(3):
        patches = x[1 + t, :, prompts:]
        per_stream = logits.view(4, 5, heads, prompts, tokens)
        gate = F.gelu(per_stream[1 + t, :, :, t])
        skip = patches * gate.repeat_interleave(channels // heads,
                                                1).transpose(1, 2)
        torch.testing.assert_close(context.carry['tadformer_tpc_skip'][t],
                                   skip)
        z = site.prompt_norm(patches + skip)
        low = (z @ site.lora_a.t()).view(5, 2, 2, 2).permute(0, 3, 1, 2)
        filtered = F.conv2d(low, site.filter.weight[t], site.filter.bias[t],
                            padding=1, groups=2)
        expected = frozen[:, prompts:] + filtered.permute(
            0, 2, 3, 1).reshape(5, tokens, 2) @ site.lora_b.t()
        torch.testing.assert_close(out[1 + t, :, prompts:], expected)


def test_structure_and_trainable_set():
    model = build()
    kinds = {type(a).__name__ for a in model.adapters.values()}
    assert kinds == {'LoRALinear', 'TaskAwareLoRA',
                     'PromptedWindowAttention'}
    aware = sorted(k for k, a in model.adapters.items()
                   if isinstance(a, TaskAwareLoRA))
    assert aware == sorted(
        f'stages_{i}_blocks_1_{role}' for i in range(4)
        for role in ('attn_w_msa_proj', 'ffn_layers_0_0', 'ffn_layers_1'))
    assert all(hasattr(model.adapters[k], 'prompt_norm') == ('proj' in k)
               for k in aware)
    bank = model.shared['prompts']
    assert bank.tokens.shape == (3, 24)
    assert sorted(bank.up) == ['0', '1', '2'] and bank.gates.shape == (4, )
    assert not any('reduction' in n for n in model.trainable_names)
    assert any('relative_position_bias_table' in n
               for n in model.trainable_names)
    plain = MODELS.build(tiny_swin(type='SwinTransformerMTL',
                                   out_after_downsample=True))
    assert list(model.module.state_dict()) == list(plain.state_dict())
    with pytest.raises(ValueError, match='skip_layout'):
        build(skip_layout='nchw')
    with pytest.raises(ValueError, match='task_filter'):
        build(task_filter='fixed')


def test_prompts_reach_attention_and_receive_gradients():
    model = build()
    randomise(model.adapters, std=0.05)
    x = images()
    feats = model(x)
    loss = sum(f.square().sum() for stages in feats.values()
               for f in stages)
    loss.backward()
    bank = model.shared['prompts']
    for name, p in bank.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for key, adapter in model.adapters.items():
        for name, p in adapter.named_parameters():
            if key == 'stages_3_blocks_1_ffn_layers_1' and \
                    name.startswith('lora'):
                continue  # the final shared output feeds nothing
            assert p.grad is not None and p.grad.abs().sum() > 0, (key, name)
    model.eval()
    with torch.no_grad():
        before = model(x)
        bank.tokens.add_(torch.randn(bank.tokens.shape))  # not a constant:
        # LayerNorm would cancel it
        after = model(x)
    for task in TASKS:
        assert not torch.allclose(before[task][0], after[task][0])


def test_tasks_differ_and_deepcopy_is_faithful():
    model = build().eval()
    randomise(model.adapters, std=0.05)
    x = images()
    feats = model(x)
    for i in range(4):
        assert not torch.allclose(feats['semseg'][i], feats['saliency'][i])
    clone = copy.deepcopy(model)
    for task in TASKS:
        for a, b in zip(clone(x)[task], feats[task]):
            assert torch.equal(a, b)
    tokens = build(skip_layout='tokens').eval()
    tokens.load_state_dict(model.state_dict())
    assert not torch.allclose(tokens(x)['semseg'][0], feats['semseg'][0])


def test_training_lowers_every_task_loss():
    assert_training_lowers_every_task_loss(build(), lr=1e-2)


def swin_t_count(rank, task_filter, released_norms, num_tasks=4):
    """Hand derivation of TADFormer's trainable count, Swin-T, merged
    outputs, four PASCAL heads (the published convention)."""
    depths, embed, heads = (2, 2, 6, 2), 96, (3, 6, 12, 24)
    total = 3 * 96 * 16 + 96 + 2 * 96  # patch embedding conv + norm
    total += num_tasks * embed + len(depths)  # prompts, stage gates
    for i, depth in enumerate(depths):
        d = embed * 2**i
        lora = rank * ((d + 3 * d) + 2 * d + 5 * d + 5 * d)
        total += depth * (lora + 2 * 2 * d + 169 * heads[i])
        if task_filter == 'dynamic':  # 1x1 conv r -> 9r, FilterNorm 2 x 9r
            total += 3 * (9 * rank * rank + 9 * rank + 2 * 9 * rank)
        else:  # depthwise 3x3 + bias per task
            total += 3 * num_tasks * 10 * rank
        norms = depth if released_norms else 1  # prompt LayerNorms
        total += norms * 2 * d
        if i < 3:
            total += 2 * 4 * d + d * 2 * d  # merging norm, prompt lift
    reduce = [192, 384, 768, 768]
    head = sum(c * r for c, r in zip(reduce, (18, 36, 72, 144)))
    head += 270 * 1080 + 1080 + 2 * 1080
    return total + sum(head + 1080 * o + o for o in (21, 7, 1, 3))


@pytest.mark.parametrize('task_filter', ['dynamic', 'static'])
def test_swin_t_counts_match_hand_derivation_and_published(task_filter):
    head = dict(type='MultiScaleFusionHead',
                in_channels=[192, 384, 768, 768])
    tasks = {t: dict(head=dict(head, out_channels=o),
                     loss=dict(type='PixelCrossEntropyLoss'))
             for t, o in dict(semseg=21, human_parts=7, saliency=1,
                              normals=3).items()}
    for rank, published in ((16, 3.56), (32, 4.78), (64, 7.38)):
        for released in (True, False):
            model = MODELS.build(dict(
                type='MultiTaskSegmentor', tasks=tasks,
                backbone=dict(type='TADFormer', rank=rank,
                              task_filter=task_filter,
                              released_prompt_norms=released,
                              module=dict(type='SwinTransformerMTL',
                                          out_after_downsample=True))))
            count = param_report(model, 'mtlora')['total_trainable']
            assert count == swin_t_count(rank, task_filter, released)
            if task_filter == 'dynamic' and released:
                assert round(count / 1e6, 2) == published
    # the official code's counts (tools/analysis/parity_official.py)
    assert swin_t_count(16, 'dynamic', True) == 3_557_502
    assert swin_t_count(16, 'static', True) == 3_532_350


def test_state_dict_round_trip_is_strict_and_exact():
    """A checkpoint of the wrapper (backbone keys without ``base.``,
    adapters, shared prompt bank) loads strictly into a fresh model."""
    model = build().eval()
    randomise(model.adapters, std=0.05)
    randomise(model.shared, seed=1, std=0.5)
    state = model.state_dict()
    assert not any('.base.' in key for key in state)
    assert 'shared.prompts.tokens' in state
    fresh = build().eval()
    fresh.load_state_dict(state)
    x = images()
    for a, b in zip(model(x)['semseg'], fresh(x)['semseg']):
        assert torch.equal(a, b)
