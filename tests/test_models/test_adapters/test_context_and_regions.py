"""The task context and per-task regions: stacking, errors, and VMT's
merged-stage outputs through a region of the patch mergings."""
import pytest
import torch

from mmmtl.models.adapters import TaskContext, current_context
from mmmtl.models.adapters.mechanism.context import activate
from mmmtl.registry import MODELS
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'normals')


def test_context_streams_stack_and_split():
    context = TaskContext(tasks=TASKS, batch_size=2)
    assert not context.stacked and context.num_streams == 1
    context.enter_region()
    assert context.streams == ('shared', ) + TASKS
    x = torch.arange(6.).view(2, 3)
    stacked = context.stack(x)
    assert stacked.shape == (6, 3)
    assert torch.equal(context.split(stacked)[2], x)
    with context.shared_only():
        assert not context.stacked
    assert context.stacked
    with pytest.raises(RuntimeError, match='nested'):
        context.enter_region()
    with pytest.raises(ValueError, match='3 stacked streams'):
        context.split(torch.zeros(4, 1))
    context.leave_region()
    context.add_residuals(1, {'semseg': torch.ones(1)})
    context.add_residuals(1, {'semseg': torch.ones(1)})
    assert context.residuals[1]['semseg'].item() == 2


def test_current_context_outside_a_forward():
    with pytest.raises(RuntimeError, match='outside the forward'):
        current_context()
    context = TaskContext(tasks=TASKS, batch_size=1)
    with activate(context):
        assert current_context() is context
    with pytest.raises(RuntimeError):
        current_context()


def test_wrapped_backbone_called_directly_names_the_problem():
    model = MODELS.build(dict(type='MTLoRA', tasks=TASKS, rank=2,
                              module=tiny_swin()))
    with pytest.raises(RuntimeError, match='call the wrapper'):
        model.module(images())


def test_vmt_merged_outputs_are_the_merging_of_shared_plus_residual():
    """SwinTransformerMTL(out_after_downsample=True): task t's output i is
    downsample_i(stage tokens + residual_t), the T mergings batched."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='VMTAdapter', tasks=TASKS, bottleneck=4,
        module=tiny_swin(type='SwinTransformerMTL',
                         out_after_downsample=True)))
    model.init_weights()
    model.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.adapters.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    captured = {}
    for i, stage in enumerate(model.module.stages):
        block = stage.blocks[-1]
        block.ffn.register_forward_pre_hook(
            lambda m, args, i=i: captured.__setitem__(('u', i), args[0]))
        block.register_forward_hook(
            lambda m, args, out, i=i: captured.__setitem__(('x', i), (
                out, args[1])))
    feats = model(images())
    assert [f.shape[1] for f in feats['semseg']] == [48, 96, 192, 192]
    for i, stage in enumerate(model.module.stages):
        layer = model.adapters[f'stages_{i}_blocks_1_ffn']
        _, residuals = layer.forward_with_tasks(captured[('u', i)])
        tokens, hw = captured[('x', i)]
        for task in TASKS:
            streamed, out_hw = tokens + residuals[task], hw
            if stage.downsample is not None:
                # .forward: the plain merging, without the region hooks
                streamed, out_hw = stage.downsample.forward(streamed, hw)
            expected = streamed.view(-1, *out_hw,
                                     streamed.shape[-1]).permute(0, 3, 1, 2)
            torch.testing.assert_close(feats[task][i], expected)
    assert not torch.allclose(feats['semseg'][0], feats['normals'][0])


@pytest.mark.parametrize('method', ['MTLoRA', 'TADFormer'])
def test_shared_segment_equals_stacked_computation(method):
    """The attention of each region's first block runs once (collapsed
    streams); outputs and gradients equal running it on every stream."""
    from mmmtl.models.adapters import detach
    from mmmtl.models.adapters.mechanism.regions import (CollapseStreams,
                                                         ExpandStreams)

    def run(model):
        model.zero_grad()
        feats = model(images())
        sum((f * f).sum() for stages in feats.values()
            for f in stages).backward()
        return feats, {n: p.grad.clone() for n, p in model.named_parameters()
                       if p.grad is not None}

    torch.manual_seed(0)
    model = MODELS.build(dict(type=method, tasks=TASKS, rank=2, dropout=0.0,
                              module=tiny_swin(type='SwinTransformerMTL',
                                               out_after_downsample=True)))
    model.init_weights()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.adapters.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    rows = []
    qkv = model.module.stages[0].blocks[1].attn.w_msa.qkv
    qkv.register_forward_hook(lambda m, a, o: rows.append(a[0].shape[0]))
    feats, grads = run(model)
    assert rows == [2 * 4]  # B = 2 images x 4 windows, not (1 + T) x that
    segments = [(t, h) for t, h in model._hooks
                if isinstance(h, (CollapseStreams, ExpandStreams))]
    assert len(segments) == 2 * 4
    for target, hook in segments:
        detach(model.module.get_submodule(target), hook)
    rows.clear()
    stacked_feats, stacked_grads = run(model)
    assert rows == [3 * 2 * 4]
    for task in TASKS:
        for a, b in zip(feats[task], stacked_feats[task]):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert grads.keys() == stacked_grads.keys()
    for name in grads:  # summation order differs: relative to the scale
        scale = stacked_grads[name].abs().max().item()
        torch.testing.assert_close(grads[name], stacked_grads[name],
                                   rtol=0, atol=1e-5 * max(scale, 1.0))
