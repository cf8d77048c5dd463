"""LoRA sites and MTLoRA on mmseg Swin: equations, per-task region vs a
per-task loop, identity at init, freezing, counts, training."""
import copy

import pytest
import torch
from torch import nn

from mmmtl.models.adapters import (LoRALinear, TaskContext, param_report,
                                   restore_module)
from mmmtl.models.adapters.mechanism.context import activate
from mmmtl.registry import MODELS
from toy_backbones import (assert_training_lowers_every_task_loss, images,
                           tiny_swin)

TASKS = ('semseg', 'human_parts', 'saliency')


def randomise(module: nn.Module, seed: int = 0, std: float = 0.2) -> None:
    """Random values for every LoRA parameter (B is zero at init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(std * torch.randn(p.shape, generator=gen))


def build(tasks=TASKS, merged=True, **kwargs):
    torch.manual_seed(0)
    module = tiny_swin(type='SwinTransformerMTL',
                       out_after_downsample=merged)
    cfg = dict(type='MTLoRA', module=module, tasks=tasks, rank=4,
               task_rank=2, dropout=0.0)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('frozen_input', ['shared', 'task'])
def test_lora_linear_equations_by_hand(frozen_input):
    layer = LoRALinear(5, 3, rank=2, scale=0.5, tasks=('a', 'b'),
                       task_rank=1, task_scale=2.0, frozen_input=frozen_input)
    randomise(layer)
    base = nn.Linear(5, 3)
    x = torch.randn(4, 7, 5)
    shared = base(x) + 0.5 * x @ layer.lora_a.t() @ layer.lora_b.t()
    context = TaskContext(tasks=('a', 'b'), batch_size=4)
    with activate(context):
        torch.testing.assert_close(layer.forward_site(base, x), shared)
        context.enter_region()
        streams = torch.cat([x, x + 1, x - 1])
        out = context.split(layer.forward_site(base, streams))
    torch.testing.assert_close(out[0], shared)
    for t, x_t in enumerate((x + 1, x - 1)):
        frozen = base(x) if frozen_input == 'shared' else base(x_t)
        expected = frozen + 2.0 * x_t @ layer.task_a[t].t() @ \
            layer.task_b[t].t()
        torch.testing.assert_close(out[1 + t], expected)


def test_lora_linear_checks_arguments():
    with pytest.raises(ValueError, match='rank'):
        LoRALinear(4, 4, rank=0)
    with pytest.raises(ValueError, match='frozen_input'):
        LoRALinear(4, 4, rank=2, tasks=('a', ), task_rank=1,
                   frozen_input='own')
    with pytest.raises(ValueError, match='task names'):
        LoRALinear(4, 4, rank=2, task_rank=1)


def test_sites_regions_and_trainable_set():
    model = build()
    sites = [k for k in model.adapters]
    assert len(sites) == 8 * 4  # 8 blocks x qkv, proj, fc1, fc2
    task_sites = sorted(k for k, a in model.adapters.items() if a.task_rank)
    assert task_sites == sorted(
        f'stages_{i}_blocks_1_{role}' for i in range(4)
        for role in ('attn_w_msa_proj', 'ffn_layers_0_0', 'ffn_layers_1'))
    assert sorted(model._region_outputs) == [0, 1, 2, 3]
    names = model.trainable_names
    assert 'patch_embed.projection.weight' in names
    assert 'stages.0.downsample.reduction.weight' in names
    assert 'stages.0.blocks.0.attn.w_msa.relative_position_bias_table' \
        in names
    assert not any('w_msa.base.qkv.base.weight' in n for n in names)
    assert not any('ffn.layers.1.base.weight' in n for n in names)
    assert list(model.module.state_dict()) == list(
        MODELS.build(tiny_swin(type='SwinTransformerMTL',
                               out_after_downsample=True)).state_dict())


@pytest.mark.parametrize('merged', [True, False])
def test_identity_at_init_equals_frozen_backbone(merged):
    model = build(merged=merged).eval()
    plain = MODELS.build(tiny_swin(type='SwinTransformerMTL',
                                   out_after_downsample=merged)).eval()
    plain.load_state_dict(model.module.state_dict())
    x = images()
    expected = plain(x)
    feats = model(x)
    assert set(feats) == set(TASKS)
    for task in TASKS:
        for a, b in zip(feats[task], expected):  # batched rows: reordered sums
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert [f.shape[1] for f in expected] == (
        [48, 96, 192, 192] if merged else [24, 48, 96, 192])


def merged_backbone(model, task=None):
    """A plain backbone whose Linear weights carry the LoRA: the shared LoRA
    everywhere, or task ``task``'s LoRA where the site has task LoRA."""
    plain = copy.deepcopy(model)
    for name in list(plain._replaced):
        adapter = plain.adapters[name.replace('.', '_')]
        linear = restore_module(plain.module, name)
        with torch.no_grad():
            if task is not None and adapter.task_rank:
                t = plain.tasks.index(task)
                linear.weight += adapter.task_scale * (
                    adapter.task_b[t] @ adapter.task_a[t])
            else:
                linear.weight += adapter.scale * (adapter.lora_b @
                                                  adapter.lora_a)
    plain.module._forward_hooks.clear()
    for module in plain.module.modules():
        module._forward_hooks.clear()
        module._forward_pre_hooks.clear()
    return plain.module.eval()


@pytest.mark.parametrize('merged', [True, False])
def test_batched_region_equals_per_task_loop(merged):
    """frozen_input='task': each task stream is the last block (+ merging)
    run with that task's LoRA merged into the weights, from the shared
    stream's input; checked against a Python loop over tasks."""
    model = build(merged=merged, frozen_input='task').eval()
    randomise(model.adapters, std=0.05)  # features O(1), not O(100)
    x = images()
    feats = model(x)
    shared = merged_backbone(model)
    inputs = {}
    for i, stage in enumerate(shared.stages):
        stage.blocks[-1].register_forward_pre_hook(
            lambda m, args, i=i: inputs.__setitem__(i, args))
    shared_outs = shared(x)
    for task in TASKS:
        tuned = merged_backbone(model, task)
        for i, stage in enumerate(tuned.stages):
            tokens, hw = inputs[i]
            out = stage.blocks[-1](tokens, hw)
            if merged and stage.downsample is not None:
                out, hw = stage.downsample(out, hw)
            elif not merged:
                out = getattr(tuned, f'norm{i}')(out)
            expected = out.view(-1, *hw, out.shape[-1]).permute(0, 3, 1, 2)
            torch.testing.assert_close(feats[task][i], expected,
                                       rtol=0, atol=1e-5)
            assert not torch.allclose(feats[task][i], shared_outs[i])


def test_tasks_diverge_and_frozen_stays_frozen():
    model = build()
    frozen = {n: p.clone() for n, p in model.module.named_parameters()
              if not p.requires_grad}
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = images()
    gen = torch.Generator().manual_seed(1)
    weights = {t: [torch.randn(f.shape, generator=gen) for f in feats]
               for t, feats in model(x).items()}
    for _ in range(2):
        optim.zero_grad()
        sum((f * w).sum() for t, feats in model(x).items()
            for f, w in zip(feats, weights[t])).backward()
        for name, p in model.module.named_parameters():
            if name in frozen:
                assert p.grad is None, name
        optim.step()
    for name, p in model.module.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
    # the final block's shared output feeds nothing (every output is a task
    # stream); its proj and fc1 still reach the tasks through the frozen
    # path W x_shared of the next layer, its fc2 does not
    unused = {'stages_3_blocks_1_ffn_layers_1'}
    for key, adapter in model.adapters.items():
        assert (adapter.lora_b.abs().sum() > 0) == (key not in unused), key
        if adapter.task_rank:
            assert adapter.task_b.abs().sum() > 0
    feats = model.eval()(x)
    for i in range(4):
        assert not torch.allclose(feats['semseg'][i], feats['saliency'][i])


def test_deepcopy_and_remove_adapters():
    model = build().eval()
    randomise(model.adapters)
    x = images()
    before = model(x)
    clone = copy.deepcopy(model)
    after = clone(x)
    for task in TASKS:
        for a, b in zip(after[task], before[task]):
            assert torch.equal(a, b)
    plain = clone.remove_adapters()
    reference = MODELS.build(tiny_swin(type='SwinTransformerMTL',
                                       out_after_downsample=True)).eval()
    reference.load_state_dict(model.module.state_dict())
    for a, b in zip(plain(x), reference(x)):
        assert torch.equal(a, b)
    assert torch.equal(model(x)['semseg'][0], before['semseg'][0])


def test_unsupported_backbone_is_refused_and_with_cp_checkpoints_blocks():
    with pytest.raises(TypeError, match='backbone support'):
        MODELS.build(dict(type='MTLoRA', tasks=TASKS,
                          module=dict(type='ToyAdapterBackbone')))
    model = MODELS.build(dict(type='MTLoRA', tasks=TASKS,
                              module=tiny_swin(with_cp=True)))
    assert model.checkpointed_blocks
    with pytest.raises(ValueError, match='one value per stage'):
        build(rank=[4, 4])
    with pytest.raises(ValueError, match='reserved'):
        build(tasks=('semseg', 'shared'))


def test_per_stage_ranks():
    model = build(rank=[2, 3, 4, 5])
    assert model.adapters['stages_2_blocks_0_attn_w_msa_qkv'].rank == 4
    assert model.adapters['stages_3_blocks_1_ffn_layers_1'].rank == 5


def test_training_lowers_every_task_loss():
    assert_training_lowers_every_task_loss(build(), lr=1e-2)


def swin_t_count(rank: int, num_tasks: int = 4) -> int:
    """Hand derivation of MTLoRA's trainable count on Swin-T with merged
    outputs and four PASCAL heads (the published convention)."""
    depths, embed, heads = (2, 2, 6, 2), 96, (3, 6, 12, 24)
    total = 0
    for i, depth in enumerate(depths):
        d = embed * 2**i
        per_block = rank * ((d + 3 * d) + (d + d) + (d + 4 * d) +
                            (4 * d + d))  # qkv, proj, fc1, fc2: r (in + out)
        per_block += 2 * 2 * d + 169 * heads[i]  # norm1, norm2, bias table
        total += depth * per_block
        # last block: task LoRA (r_t = 4) on proj, fc1, fc2 for every task
        total += num_tasks * 4 * ((d + d) + (d + 4 * d) + (4 * d + d))
        if i < 3:
            total += 2 * 4 * d + 4 * d * 2 * d  # merging norm + reduction
    total += 3 * 96 * 16 + 96 + 2 * 96  # patch embedding conv + its norm
    out = dict(semseg=21, human_parts=7, saliency=1, normals=3)
    reduce = [192, 384, 768, 768]
    head = sum(c * r for c, r in zip(reduce, (18, 36, 72, 144)))
    head += 270 * 1080 + 1080 + 2 * 1080  # fuse conv + BN
    total += sum(head + 1080 * o + o for o in out.values())
    return total


def test_swin_t_counts_match_hand_derivation_and_published():
    heads = dict(type='MultiScaleFusionHead',
                 in_channels=[192, 384, 768, 768])
    tasks = {t: dict(head=dict(heads, out_channels=o),
                     loss=dict(type='PixelCrossEntropyLoss'))
             for t, o in dict(semseg=21, human_parts=7, saliency=1,
                              normals=3).items()}
    for rank, published in ((16, 4.95), (32, 6.08), (64, 8.34)):
        model = MODELS.build(dict(
            type='MultiTaskSegmentor', tasks=tasks,
            backbone=dict(type='MTLoRA', rank=rank, module=dict(
                type='SwinTransformerMTL', out_after_downsample=True))))
        report = param_report(model, 'mtlora')
        assert report['total_trainable'] == swin_t_count(rank)
        assert round(report['total_trainable'] / 1e6, 2) == published
    assert swin_t_count(16) == 4_953_146  # the official code's count
