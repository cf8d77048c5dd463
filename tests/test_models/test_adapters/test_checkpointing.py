"""Activation checkpointing of Swin blocks holding adapter sites
(``mmmtl.models.adapters.mechanism.checkpointing``): outputs and
gradients equal to those without checkpointing for every method, blocks
really recomputed, the forward's records in the context kept once, refusals."""
import copy

import pytest
import torch
from torch import Tensor, nn

from mmmtl.models.adapters import TaskContext
from mmmtl.models.adapters.mechanism.checkpointing import (
    CheckpointedForward, Recomputation, snapshot)
from mmmtl.models.adapters.mechanism.context import (PromptState,
                                                     current_context)
from mmmtl.registry import MODELS
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'normals', 'saliency')
SMALL = dict(embed_dims=16, depths=(1, 1, 2, 1))
BLOCKS = ['stages.0.blocks.0', 'stages.1.blocks.0', 'stages.2.blocks.0',
          'stages.2.blocks.1', 'stages.3.blocks.0']
MTL = dict(type='SwinTransformerMTL', out_after_downsample=True)
METHODS = {
    'lora': dict(type='LoRA', roles=('qkv', 'proj', 'fc1', 'fc2'),
                 dropout=0.1),
    'mtlora': dict(type='MTLoRA', rank=4, task_rank=2, dropout=0.05,
                   swin=MTL),
    'vmt': dict(type='VMTAdapter', bottleneck=4, task_features='all'),
    'vmt_dwconv_merged': dict(type='VMTAdapter', bottleneck=4,
                              knowledge='dwconv', swin=MTL),
    'tadformer': dict(type='TADFormer', rank=4, dropout=0.05, swin=MTL),
    'polyhistor': dict(type='Polyhistor', bottleneck=4, embed_dim=8,
                       hyper_dim=8),
    'vpt_deep': dict(type='VPTDeep', num_prompts=3, dropout=0.1),
    'vpt_shallow': dict(type='VPTShallow', num_prompts=3, dropout=0.1),
}


def build(method: str, with_cp: bool = True) -> nn.Module:
    """``method`` on a tiny Swin with ``with_cp``; every trainable
    parameter randomised (zero-initialised up-projections would hide
    errors), train mode."""
    cfg = dict(METHODS[method])
    swin = tiny_swin(with_cp=with_cp, **SMALL, **cfg.pop('swin', {}))
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, module=swin, tasks=TASKS))
    model.init_weights()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
    return model.train()


def flat(out) -> list:
    if isinstance(out, dict):
        return [f for task in sorted(out) for f in out[task]]
    return list(out)


def weighted_sum(outs: list) -> Tensor:
    gen = torch.Generator().manual_seed(2)
    return sum((f * torch.randn(f.shape, generator=gen)).sum() for f in outs)


def step(model: nn.Module, x: Tensor):
    """Outputs and gradients of one forward / backward (same dropout
    masks on every call)."""
    model.zero_grad()
    torch.manual_seed(5)
    outs = flat(model(x))
    weighted_sum(outs).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()
             if p.grad is not None}
    return [f.detach() for f in outs], grads


@pytest.mark.parametrize('method', sorted(METHODS))
def test_same_outputs_and_gradients_as_without(method):
    model = build(method)
    assert model.checkpointed_blocks == BLOCKS
    block = model.module.stages[2].blocks[1]
    assert isinstance(block.forward, CheckpointedForward)
    assert block.with_cp is False
    calls = []
    block.norm1.register_forward_hook(lambda *args: calls.append(1))
    x = images()
    outs, grads = step(model, x)
    with_cp_calls = len(calls)
    model.set_block_checkpointing(False)
    assert model.checkpointed_blocks == []
    calls.clear()
    ref_outs, ref_grads = step(model, x)
    assert with_cp_calls == len(calls) + 1  # recomputed once in backward
    assert len(outs) == len(ref_outs)
    for out, ref in zip(outs, ref_outs):
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    assert grads.keys() == ref_grads.keys() and grads
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(grads) <= trainable
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=0,
                                   atol=1e-6, msg=name)


def capture_contexts(model: nn.Module) -> list:
    """Record every forward's context (through ``prepare_context``)."""
    contexts = []
    prepare = model.prepare_context

    def recording(context: TaskContext) -> None:
        contexts.append(context)
        prepare(context)

    model.prepare_context = recording
    return contexts


def references(context: TaskContext) -> dict:
    """The context's records, as ids of the tensors they hold."""
    def ids(value):
        if isinstance(value, dict):
            return {k: ids(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [ids(v) for v in value]
        return id(value)

    return dict(residuals=ids(context.residuals),
                task_features=ids(context.task_features),
                carry=ids(context.carry), streams=context.streams,
                collapsed=context.collapsed, hw_shape=context.hw_shape,
                prompts=context.prompts)


@pytest.mark.parametrize('method', ['vmt', 'tadformer', 'vpt_shallow'])
def test_recomputation_records_nothing_twice(method):
    model = build(method)
    contexts = capture_contexts(model)
    out = flat(model(images()))
    context, = contexts
    before = references(context)
    recorded = before['residuals'] or before['task_features'] or \
        before['carry']
    assert recorded
    weighted_sum(out).backward()
    assert references(context) == before


def test_twice_backward_recomputes_in_the_same_context():
    model = build('tadformer')
    out = flat(model(images()))
    loss = weighted_sum(out)
    loss.backward(retain_graph=True)
    once = {n: p.grad.clone() for n, p in model.named_parameters()
            if p.grad is not None}
    loss.backward()
    for name, grad in once.items():
        param = dict(model.named_parameters())[name]
        torch.testing.assert_close(param.grad, 2 * grad, rtol=0, atol=1e-6)


def test_no_grad_runs_blocks_plainly():
    model = build('mtlora').eval()
    with torch.no_grad():
        with_cp = flat(model(images()))
        model.set_block_checkpointing(False)
        plain = flat(model(images()))
    for a, b in zip(with_cp, plain):
        assert torch.equal(a, b)


def test_remove_adapters_and_deepcopy():
    model = build('vmt')
    clone = copy.deepcopy(model)
    block = clone.module.stages[1].blocks[0]
    assert block.forward.module is block
    outs, grads = step(clone, images())
    ref_outs, ref_grads = step(model, images())
    for a, b in zip(outs, ref_outs):
        assert torch.equal(a, b)
    plain = model.remove_adapters()
    for stage in plain.stages:
        for block in stage.blocks:
            assert 'forward' not in block.__dict__ and block.with_cp is True


def test_mmseg_reentrant_checkpoint_cannot_see_the_context():
    """Why the wrapper checkpoints the blocks itself: mmseg's own
    checkpoint recomputes a block outside the forward's context."""
    model = build('vmt')
    model.set_block_checkpointing(False)
    for stage in model.module.stages:
        for block in stage.blocks:
            block.with_cp = True
    out = flat(model(images()))
    with pytest.raises(RuntimeError, match='outside the forward'):
        weighted_sum(out).backward()


def test_without_sites_the_backbone_keeps_its_own_checkpointing():
    model = MODELS.build(dict(type='BitFit', module=tiny_swin(with_cp=True),
                              tasks=TASKS))
    assert model.checkpointed_blocks == []
    assert model.module.stages[0].blocks[0].with_cp is True


@MODELS.register_module(force=True)
class ToyCheckpointedBackbone(nn.Module):
    """A backbone with ``with_cp`` and no backbone support."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, 4)
        self.block = nn.Linear(8, 8)
        self.block.with_cp = True

    def forward(self, x: Tensor) -> list:
        x = self.embed(x)
        return [self.block(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)]


def test_unsupported_backbone_is_refused():
    with pytest.raises(ValueError, match="with_cp=True on \\['block'\\]"):
        MODELS.build(dict(type='VMTAdapter', tasks=TASKS, bottleneck=2,
                          targets='block', task_features=None,
                          module=dict(type='ToyCheckpointedBackbone')))


def test_recomputation_installs_and_restores_the_fields():
    context = TaskContext(tasks=('a', 'b'), batch_size=2)
    context.prompts = PromptState(tokens=torch.zeros(2, 1, 4))
    context.add_residuals(0, {'a': torch.ones(1), 'b': torch.ones(1)})
    state = snapshot(context)
    context.prompts.out = torch.ones(2, 1, 4)
    context.enter_region()
    context.hw_shape = (8, 8)
    live_residuals, live_prompts = context.residuals, context.prompts
    recompute = Recomputation(context, state)
    with pytest.raises(KeyError):
        with recompute:
            assert current_context() is context
            assert not context.stacked and context.hw_shape is None
            assert context.prompts.out is None
            context.add_residuals(0, {'a': torch.ones(1)})
            context.prompts.out = torch.zeros(1)
            raise KeyError('early stop')
    assert context.residuals is live_residuals
    assert torch.equal(live_residuals[0]['a'], torch.ones(1))
    assert context.prompts is live_prompts
    assert torch.equal(live_prompts.out, torch.ones(2, 1, 4))
    assert context.stacked and context.hw_shape == (8, 8)
    with recompute:  # reusable, each time on fresh copies of the state
        assert context.residuals is not state['residuals']
        assert context.residuals[0]['a'] is state['residuals'][0]['a']
    assert context.residuals is live_residuals
