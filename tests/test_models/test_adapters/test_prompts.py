"""The shared prompt lifecycle (mechanism/prompts.py) and the prompt state
the prompted attention fills: plain PromptState gets no logits, TADFormer's
TaskPromptState does."""
import torch

import mmmtl  # noqa: F401  (mmcv.ops stand-in before mmseg)
from mmmtl.models.adapters.mechanism.context import (PromptState,
                                                     TaskContext, activate)
from mmmtl.models.adapters.mechanism.prompts import (PromptCarrier,
                                                     mlp_of_attention,
                                                     through_block)
from mmmtl.models.adapters.methods.tadformer import TaskPromptState
from mmmtl.models.adapters.support import PromptedWindowAttention
from mmmtl.registry import MODELS
from toy_backbones import tiny_swin
from mmseg.models.backbones.swin import WindowMSA  # noqa: E402


def test_plain_prompt_state_has_no_logits_task_state_gets_them():
    torch.manual_seed(0)
    msa = WindowMSA(8, 2, (2, 2))
    x, prompts = torch.randn(6, 4, 8), torch.randn(2, 3, 8)
    site = PromptedWindowAttention()
    context = TaskContext(tasks=('a', ), batch_size=2)
    with activate(context):
        context.prompts = PromptState(tokens=prompts)
        plain = site.forward_site(msa, x)
        assert not hasattr(context.prompts, 'logits')
        assert context.prompts.out.shape == (2, 3, 8)
        context.prompts = TaskPromptState(tokens=prompts)
        task = site.forward_site(msa, x)
        assert context.prompts.logits.shape == (6, 2, 3, 4)
    torch.testing.assert_close(plain, task)


def swin_support():
    model = MODELS.build(dict(type='VPTShallow', tasks=('a', ),
                              num_prompts=2, module=tiny_swin()))
    return model, model.backbone_support()


def test_carrier_enter_leave_and_lift_by_hand():
    model, support = swin_support()
    block = support.blocks()[0][1]
    carrier = PromptCarrier(support, 'test_prompts', TaskPromptState)
    context = TaskContext(tasks=('a', ), batch_size=2)
    tokens = torch.randn(2, 2, support.channels(0))
    with activate(context), torch.no_grad():
        carrier.start(context, tokens)
        carrier.enter(block)
        assert isinstance(context.prompts, TaskPromptState)
        torch.testing.assert_close(context.prompts.tokens,
                                   support.norm1(block, tokens))
        out = torch.randn_like(tokens)
        context.prompts.out = out
        carrier.leave(block, 'mlp_of_attention')
        assert context.prompts is None
        expected = mlp_of_attention(support, block, tokens, out)
        torch.testing.assert_close(context.carry['test_prompts'], expected)
        carrier.enter(block, tokens)  # given tokens, the carry unchanged
        torch.testing.assert_close(context.carry['test_prompts'], expected)
        context.prompts.out = out
        carrier.leave(block, 'through_block')
        torch.testing.assert_close(
            context.carry['test_prompts'],
            through_block(support, block, expected, out))
        carrier.leave(block)  # no prompts in the block: nothing to update
        carrier.lift(0)
        assert context.carry['test_prompts'].shape == (
            2, 2, support.channels(1))
        carrier.lift(1, lambda p: 2 * p)
        assert context.carry['test_prompts'].shape == (
            2, 2, support.channels(1))
    assert carrier.downsamplings() == [0, 1, 2]
