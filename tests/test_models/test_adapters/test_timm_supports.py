"""Methods on timm ViT (DINOv2 with registers, one or four taps), timm Swin
and timm ConvNeXt through their backbone supports: identity at init, the
task streams never mix images or tasks, and clear errors for what a family
lacks."""
import copy

import pytest
import torch

from mmmtl.analysis.backbone_matrix import FAMILIES
from mmmtl.models.adapters import get_support
from mmmtl.models.adapters.support import UnsupportedBackboneError
from mmmtl.registry import MODELS

TASKS = ('semseg', 'depth')
VIT4 = dict(FAMILIES['timm_vit'][1], out_indices=(0, 1, 2, 3))
BACKBONES = {
    'vit': (FAMILIES['timm_vit'][1], 56),
    'vit4': (VIT4, 56),
    'swin': (FAMILIES['timm_swin'][1], 64),
    'convnext': (FAMILIES['timm_convnext'][1], 64),
}
METHODS = {
    'MTLoRA': dict(rank=2, task_rank=2),
    'VMTAdapter': dict(bottleneck=4),
    'Polyhistor': dict(bottleneck=4, embed_dim=8, hyper_dim=8),
    'LoRA': dict(rank=2, targets=[r'.*\.mlp\.fc1']),
    'VPTDeep': dict(num_prompts=2),
    'VPTShallow': dict(num_prompts=2),
    'TADFormer': dict(rank=2),
}
CELLS = [(m, b) for m in METHODS for b in BACKBONES
         if not (m == 'MTLoRA' and b == 'convnext')
         and not m.startswith(('VPT', 'TADFormer'))]
PROMPTED = [('VPTDeep', 'vit'), ('VPTShallow', 'vit4'), ('TADFormer', 'vit'),
            ('TADFormer', 'vit4')]


def build(method: str, backbone: str):
    torch.manual_seed(0)
    model = MODELS.build(dict(type=method, module=BACKBONES[backbone][0],
                              tasks=TASKS, **METHODS[method]))
    model.init_weights()
    return model.eval()


def images(backbone: str, batch: int = 2) -> torch.Tensor:
    size = BACKBONES[backbone][1]
    return torch.randn(batch, 3, size, size,
                       generator=torch.Generator().manual_seed(3))


def per_task(out) -> dict:
    return out if isinstance(out, dict) else {t: out for t in TASKS}


@pytest.mark.parametrize('method,backbone', CELLS)
def test_identity_at_init_equals_the_frozen_backbone(method, backbone):
    model = build(method, backbone)
    plain = MODELS.build(BACKBONES[backbone][0]).eval()
    plain.load_state_dict(model.module.state_dict(), strict=False)
    x = images(backbone)
    expected = plain(x)
    with torch.no_grad():
        out = per_task(model(x))
    for task in TASKS:
        for a, b in zip(out[task], expected):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize('method,backbone', CELLS + PROMPTED)
def test_streams_never_mix_images_or_tasks(method, backbone):
    """Random adapter weights: each image's task outputs are those of the
    image alone, and the tasks differ where the method is task-specific."""
    model = build(method, backbone)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=generator)
                            * 0.1)
    x = images(backbone)
    with torch.no_grad():
        batched = per_task(model(x))
        alone = [per_task(model(x[i:i + 1])) for i in range(2)]
    for task in TASKS:
        for level, feat in enumerate(batched[task]):
            for i in range(2):
                torch.testing.assert_close(feat[i:i + 1],
                                           alone[i][task][level],
                                           rtol=1e-4, atol=1e-5)
    if method in ('MTLoRA', 'VMTAdapter', 'Polyhistor', 'TADFormer'):
        assert not torch.allclose(batched['semseg'][0], batched['depth'][0])


def test_vit_stages_are_the_tap_groups_and_the_pyramid_trains():
    vit4 = build('LoRA', 'vit4')
    support = get_support(vit4.module)
    assert support.num_stages == 4
    assert [b for _, b in support.blocks('last')] == [
        f'model.model.blocks.{i}' for i in range(4)]
    assert support.out_index(3) == 3 and support.out_index(4) is None
    assert any(n.startswith('pyramid.') for n in vit4.trainable_names)
    vit = build('LoRA', 'vit')
    support = get_support(vit.module)
    assert support.num_stages == 1 and support.fans_out
    assert len(support.blocks()) == 4
    assert support.stage_regions()[0].exit is None


def test_timm_swin_regions_end_at_the_stage():
    support = get_support(build('LoRA', 'swin').module)
    regions = support.stage_regions()
    assert [(r.entry, r.exit, r.out_index) for r in regions] == [
        (f'model.layers_{i}.blocks.1', f'model.layers_{i}', i)
        for i in range(4)]
    assert support.region_shared_segments()[0] == (
        'model.layers_0.blocks.1.attn')


def test_what_a_family_lacks_is_named_at_build_time():
    with pytest.raises(UnsupportedBackboneError,
                       match="'prompts'.*timm SwinTransformer"):
        MODELS.build(dict(type='TADFormer', module=BACKBONES['swin'][0],
                          tasks=TASKS))
    with pytest.raises(UnsupportedBackboneError,
                       match="'prompts'.*timm SwinTransformer"):
        MODELS.build(dict(type='VPTDeep', module=BACKBONES['swin'][0],
                          tasks=TASKS))
    with pytest.raises(UnsupportedBackboneError,
                       match="'regions'.*timm ConvNeXt"):
        MODELS.build(dict(type='MTLoRA', module=BACKBONES['convnext'][0],
                          tasks=TASKS))
    with pytest.raises(UnsupportedBackboneError, match="known: \\['fc1'"):
        MODELS.build(dict(type='LoRA', module=BACKBONES['convnext'][0],
                          tasks=TASKS, roles=('qkv', )))
    conv_mlp = copy.deepcopy(BACKBONES['convnext'][0])
    conv_mlp['model_kwargs']['conv_mlp'] = True
    with pytest.raises(UnsupportedBackboneError, match='conv_mlp=False'):
        MODELS.build(dict(type='LoRA', module=conv_mlp, tasks=TASKS,
                          roles=('fc1', )))


@pytest.mark.parametrize('method,options', [
    ('VMTAdapter', dict(bottleneck=4)),
    ('BottleneckAdapter', dict(placement='ffn', reduction=8)),
    ('Polyhistor', dict(bottleneck=4, embed_dim=8, hyper_dim=8))])
def test_conv_mlp_convnext_runs_adapters_channels_first(method, options):
    """Small ConvNeXts (1x1-conv MLPs on NCHW maps): MLP adapters run
    through ChannelsFirst and start as the identity."""
    conv_mlp = copy.deepcopy(BACKBONES['convnext'][0])
    conv_mlp['model_kwargs']['conv_mlp'] = True
    torch.manual_seed(0)
    model = MODELS.build(dict(type=method, module=conv_mlp, tasks=TASKS,
                              **options))
    model.init_weights()
    plain = MODELS.build(conv_mlp).eval()
    plain.load_state_dict(model.module.state_dict(), strict=False)
    x = images('convnext')
    with torch.no_grad():
        out = per_task(model.eval()(x))
        expected = plain(x)
    for a, b in zip(out['depth'], expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize('backbone', ['swin', 'vit4'])
def test_block_checkpointing_keeps_outputs_and_gradients(backbone):
    """The wrapper checkpoints timm blocks itself (timm's own flag off):
    the same outputs and gradients as without checkpointing."""
    results = []
    for enabled in (False, True):
        model = build('MTLoRA', backbone).train()
        model.set_block_checkpointing(enabled)
        if enabled:
            support = get_support(model.module)
            assert not support.checkpointing_requested()
            assert model.checkpointed_blocks == [
                b for _, b in support.blocks()]
        out = model(images(backbone))
        sum(f.pow(2).mean() for t in TASKS for f in out[t]).backward()
        results.append(([f.detach() for t in TASKS for f in out[t]],
                        [p.grad for p in model.parameters()
                         if p.requires_grad]))
    for a, b in zip(results[0][0] + results[0][1],
                    results[1][0] + results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_prompted_global_attention_is_the_attention_over_prompts_and_tokens():
    """ViT prompts: the block's own attention on [prompts; tokens] (no
    window tiling, bias or mask to exclude)."""
    from mmmtl.models.adapters import PromptState, TaskContext
    from mmmtl.models.adapters.mechanism.context import activate
    support = get_support(build('LoRA', 'vit').module)
    block = support.blocks()[0][1]
    attn = support.block(block).attn
    site = support.prompted_attention()
    x, prompts = torch.randn(2, 17, 64), torch.randn(2, 3, 64)
    context = TaskContext(tasks=TASKS, batch_size=2)
    state = context.prompts = PromptState(tokens=prompts)
    with torch.no_grad(), activate(context):
        out = site.forward_site(attn, x)
        expected = attn(torch.cat([prompts, x], 1))
        context.prompts = None
        plain = site.forward_site(attn, x)
    torch.testing.assert_close(out, expected[:, 3:])
    torch.testing.assert_close(state.out, expected[:, :3])
    torch.testing.assert_close(plain, attn(x))
    assert support.downsample(0) is None


def test_tadformer_filters_the_vit_grid_and_passes_prefix_tokens():
    """TADFormer on a ViT with registers: every task-aware site filters the
    (H, W) patch grid of the probed block; the 5 prefix tokens bypass it."""
    from mmmtl.models.adapters import TaskContext
    from mmmtl.models.adapters.mechanism.context import activate
    from mmmtl.models.adapters.methods.tadformer import TaskAwareLoRA
    model = build('TADFormer', 'vit4')
    sites = [a for a in model.adapters.values()
             if isinstance(a, TaskAwareLoRA)]
    assert sites and all(s.rows == 'map' and s.prefix_tokens == 5
                         for s in sites)
    site = sites[0]
    low = torch.randn(2, 3, 5 + 16, site.rank)
    context = TaskContext(tasks=TASKS, batch_size=3, hw_shape=(4, 4))
    with activate(context):
        out = site._filtered(low, context)
    torch.testing.assert_close(out[:, :, :5], low[:, :, :5])
    maps = low[:, :, 5:].reshape(6, 4, 4, site.rank).permute(0, 3, 1, 2)
    expected = site.filter(maps).permute(0, 2, 3, 1).reshape(2, 3, 16, -1)
    torch.testing.assert_close(out[:, :, 5:], expected)
