"""VPT-shallow / VPT-deep: sites, counts, prompt inputs and the shallow
carry by hand, equality with the plain backbone, batch independence,
gradients, training in the segmentor, state dicts."""
import copy
import math

import pytest
import torch
from mmengine.structures import PixelData

import mmmtl  # noqa: F401  (mmcv.ops stand-in before mmseg)
from mmmtl.models.adapters import (AdaptedSite, TaskContext, VPTDeep,
                                   VPTShallow, current_context)
from mmmtl.models.adapters.mechanism.context import activate
from mmmtl.models.adapters.support import PromptedWindowAttention
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from toy_backbones import images, tiny_swin
from mmseg.models.backbones.swin import WindowMSA  # noqa: E402

TASKS = ('semseg', 'normals')
BLOCKS = [f'stages.{i}.blocks.{j}' for i in range(4) for j in range(2)]
WIDTHS = [24, 48, 96, 192]  # tiny_swin: embed 24, depths 2-2-2-2
SHALLOW = [dict(depth='shallow'),
           dict(depth='shallow', lift_at_merging=False)]
ALL = [dict(depth='deep')] + SHALLOW


def swin_cfg():
    return tiny_swin(type='SwinTransformerMTL', out_after_downsample=True)


def build(num_prompts=3, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type='VPT', tasks=TASKS, num_prompts=num_prompts,
               module=swin_cfg())
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def plain_copy(model):
    """The plain backbone with the wrapped backbone's weights."""
    plain = MODELS.build(swin_cfg())
    plain.load_state_dict(model.module.state_dict())
    return plain.eval()


def prompted(cfg):
    """Blocks whose attention gets prompts."""
    if cfg.get('lift_at_merging', True):
        return BLOCKS
    return BLOCKS[:2]


@pytest.mark.parametrize('cfg', ALL)
def test_sites_aliases_and_arguments(cfg):
    model = build(**cfg)
    for block in BLOCKS:
        msa = model.module.get_submodule(f'{block}.attn.w_msa')
        if block in prompted(cfg):
            assert isinstance(msa, AdaptedSite)
            assert isinstance(msa.site_adapter, PromptedWindowAttention)
        else:
            assert type(msa) is WindowMSA
    assert not model.emits_task_features
    assert isinstance(model(images()), list)
    alias = VPTDeep if cfg['depth'] == 'deep' else VPTShallow
    built = MODELS.build(dict(type=alias.__name__, tasks=TASKS,
                              module=swin_cfg()))
    assert type(built) is alias and built.depth == cfg['depth']
    with pytest.raises(ValueError, match='depth'):
        build(depth='middle')
    with pytest.raises(ValueError, match='num_prompts'):
        build(num_prompts=-1)


@pytest.mark.parametrize('cfg', ALL)
def test_trainable_set_count_and_init_by_hand(cfg):
    model = build(num_prompts=5, **cfg)
    if cfg['depth'] == 'deep':  # P x C for every block
        shapes = [(5, w) for w in WIDTHS for _ in range(2)]
    else:  # P x C_0 once
        shapes = [(5, 24)]
    tokens = model.shared['prompts'].tokens
    assert [tuple(t.shape) for t in tokens] == shapes
    trainable = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
    assert all(n.startswith('shared.prompts.tokens.') for n, _ in trainable)
    expected = 5 * 2 * sum(WIDTHS) if cfg['depth'] == 'deep' else 5 * 24
    assert sum(p.numel() for _, p in trainable) == expected
    assert not model.trainable_names
    bound = math.sqrt(6 / (3 * 4 * 4 + 24))  # 3 x patch^2 + C_0
    values = torch.cat([t.detach().flatten() for t in tokens])
    assert values.abs().max() <= bound
    assert values.abs().max() > 0.8 * bound  # uniform on [-v, v]


@pytest.mark.parametrize('cfg', ALL)
def test_zero_prompts_equal_plain_backbone_and_prompts_change_it(cfg):
    x = images()
    empty = build(num_prompts=0, **cfg)
    assert sum(p.numel() for p in empty.parameters() if p.requires_grad) \
        == 0
    plain = plain_copy(empty)
    with torch.no_grad():
        for a, b in zip(empty(x), plain(x)):
            assert torch.equal(a, b)
        outs = build(**cfg)(x)
        for a, b in zip(outs, plain(x)):
            assert not torch.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize('cfg', ALL)
def test_gradients_reach_every_prompt_only(cfg):
    model = build(**cfg).train()
    loss = sum(f.square().sum() for f in model(images()))
    loss.backward()
    for i, tokens in enumerate(model.shared['prompts'].tokens):
        assert tokens.grad is not None and tokens.grad.abs().sum() > 0, i
    assert all(p.grad is None for p in model.module.parameters())


def capture_block_prompts(model, blocks):
    """Per prompted block: the prompt tokens its attention receives and the
    prompts' attention output (B, P, C), recorded at the attention site."""
    seen, outs = {}, {}
    for block in blocks:
        site = model.module.get_submodule(f'{block}.attn.w_msa')
        site.register_forward_pre_hook(
            lambda m, a, block=block: seen.__setitem__(
                block, current_context().prompts.tokens.clone()))
        site.register_forward_hook(
            lambda m, a, o, block=block: outs.__setitem__(
                block, current_context().prompts.out.clone()))
    return seen, outs


def test_deep_blocks_see_their_own_prompts_by_hand():
    model = build(depth='deep')
    seen, _ = capture_block_prompts(model, BLOCKS)
    with torch.no_grad():
        model(images())
        for k, block in enumerate(BLOCKS):
            norm1 = model.module.get_submodule(f'{block}.norm1')
            expected = norm1(model.shared['prompts'].tokens[k])
            torch.testing.assert_close(seen[block],
                                       expected.expand(2, -1, -1))


def merged_patch_of_copies(merge, prompts):
    """Each prompt as a 2x2 map of four copies of itself, through the
    merging module itself: (B, P, C) -> (B, P, C_out)."""
    b, p, c = prompts.shape
    grid = prompts.reshape(b * p, 1, c).expand(b * p, 4, c)
    with activate(TaskContext(tasks=TASKS, batch_size=b * p)):
        merged, size = merge(grid, (2, 2))
    assert tuple(size) == (1, 1)
    return merged.view(b, p, -1)


@pytest.mark.parametrize('cfg', SHALLOW)
def test_shallow_carries_prompts_by_hand(cfg):
    """Block k sees LN1_k(p_k): p_0 the prompt tokens, then per block
    p <- p + a; p <- p + MLP(LN2(p)) (a: the prompts' attention output,
    mean over each image's windows), and at each merging p <- the merged
    patch of four copies of p; without lifting, stage 0 alone."""
    model = build(**cfg)
    blocks = prompted(cfg)
    seen, outs = capture_block_prompts(model, blocks)
    swin = model.module
    with torch.no_grad():
        model(images())
        p = model.shared['prompts'].tokens[0].expand(2, -1, -1)
        for block in blocks:
            stage, index = int(block.split('.')[1]), int(block[-1])
            if stage > 0 and index == 0:
                p = merged_patch_of_copies(
                    swin.stages[stage - 1].downsample, p)
            module = swin.get_submodule(block)
            torch.testing.assert_close(seen[block], module.norm1(p))
            p = p + outs[block]
            fc1, fc2 = module.ffn.layers[0][0], module.ffn.layers[1]
            p = p + fc2(torch.nn.functional.gelu(fc1(module.norm2(p))))
        first = swin.get_submodule(BLOCKS[1])
        start = model.shared['prompts'].tokens[0].expand(2, -1, -1)
        assert not torch.allclose(seen[BLOCKS[1]], first.norm1(start),
                                  atol=1e-3)


def test_prompt_dropout_masks():
    """Deep: one dropout mask for the batch; shallow: one per image."""
    for depth, same in (('deep', True), ('shallow', False)):
        model = build(depth=depth, dropout=0.5, num_prompts=8).train()
        seen, _ = capture_block_prompts(model, BLOCKS[:1])
        torch.manual_seed(1)
        with torch.no_grad():
            model(images())
        tokens = seen[BLOCKS[0]]
        assert torch.allclose(tokens[0], tokens[1]) == same, depth


@pytest.mark.parametrize('cfg', ALL)
def test_independent_of_batch_composition(cfg):
    model = build(**cfg)
    x = images(batch=3, seed=4)
    with torch.no_grad():
        batched = model(x)
        for i in range(3):
            alone = model(x[i:i + 1])
            for a, b in zip(batched, alone):
                torch.testing.assert_close(a[i:i + 1], b, atol=1e-5,
                                           rtol=0)


def sample(size=32):
    s = MultiTaskDataSample()
    normals = torch.nn.functional.normalize(torch.randn(3, size, size), dim=0)
    s.gt_maps = PixelData(semseg=torch.randint(0, 5, (1, size, size)),
                          normals=normals)
    s.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                        pad_shape=(size, size),
                        batch_input_shape=(size, size)))
    return s


@pytest.mark.parametrize('depth', ['deep', 'shallow'])
def test_segmentor_training_of_the_prompts_lowers_the_loss(depth):
    """A few Adam steps on the prompts alone (decoders and backbone fixed)
    lower the multi-task loss of a tiny MultiTaskSegmentor."""
    def head(out_channels):
        return dict(type='MultiScaleFusionHead', in_channels=[48, 96, 192,
                                                              192],
                    out_channels=out_channels, channels=(4, 4, 4, 4))

    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        backbone=dict(type='VPT', depth=depth, num_prompts=4,
                      module=swin_cfg()),
        tasks=dict(
            semseg=dict(head=head(5), loss=dict(type='PixelCrossEntropyLoss')),
            normals=dict(head=head(3), loss=dict(type='NormalsL1Loss')))))
    model.init_weights()
    assert model.backbone.tasks == TASKS
    model.eval()  # fixed batch norms in the decoders
    torch.manual_seed(1)
    x, samples = images(), [sample(), sample()]
    prompts = list(model.backbone.shared['prompts'].parameters())
    optim = torch.optim.Adam(prompts, lr=0.05)

    def loss():
        return sum(model(x, samples, mode='loss').values())

    first = loss().item()
    for _ in range(6):
        optim.zero_grad()
        loss().backward()
        optim.step()
    assert loss().item() < 0.985 * first


def test_state_dicts_deepcopy_and_removal():
    model = build(depth='shallow')
    plain = plain_copy(model)
    assert list(model.module.state_dict()) == list(
        MODELS.build(swin_cfg()).state_dict())
    model.module.load_state_dict(plain.state_dict())  # strict
    state = model.state_dict()
    assert 'shared.prompts.tokens.0' in state
    assert not any('.base.' in key for key in state)
    x = images()
    with torch.no_grad():
        ref = model(x)
        fresh = build(depth='shallow')
        with torch.no_grad():
            fresh.shared['prompts'].tokens[0].zero_()
        fresh.load_state_dict(state)
        clone = copy.deepcopy(model)
        for a, b, c in zip(ref, fresh(x), clone(x)):
            assert torch.equal(a, b) and torch.equal(a, c)
        restored = model.remove_adapters()
        for a, b in zip(restored(x), plain(x)):
            assert torch.equal(a, b)
