"""Hyperformer on mmseg Swin: generated weights, identity at init, task
embeddings, batched task streams vs a per-task loop, counts, gradients,
training, state-dict keys."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmmtl.apis import load_config
from mmmtl.models.adapters import param_report
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from toy_backbones import (assert_training_lowers_every_task_loss, images,
                           tiny_swin)

TASKS = ('semseg', 'human_parts', 'saliency')
DIMS = [24, 48, 96, 192]  # tiny Swin, two blocks a stage
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def build(tasks=TASKS, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type='Hyperformer', module=tiny_swin(), tasks=tasks,
               reduction=4, embed_dim=8, hidden_dim=12, proj_dim=6)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def site_names():
    """The adapters' modules in site order: proj, then fc2, per block."""
    return [f'stages.{s}.blocks.{b}.{role}' for s in range(4)
            for b in range(2)
            for role in ('attn.w_msa.proj', 'ffn.layers.1')]


def randomise_hypernetwork(model, seed=0, std=0.05):
    """Non-zero norm / up heads (zero at init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.shared['hyper'].parameters():
            p.add_(std * torch.randn(p.shape, generator=gen))


def adapter_by_hand(y, w, t):
    """y + LN_{g,b}(GELU(y D + b_D) U + b_U) for task t."""
    out = F.gelu(y @ w.down[t] + w.down_bias[t], approximate='tanh')
    out = out @ w.up[t] + w.up_bias[t]
    if w.gamma is not None:
        mean = out.mean(-1, keepdim=True)
        var = out.var(-1, unbiased=False, keepdim=True)
        out = (out - mean) / torch.sqrt(var + 1e-5) * w.gamma[t] + w.beta[t]
    return y + out


@pytest.mark.parametrize('hypernets,groups', [('stage', 4), ('adapter', 16)])
def test_generated_weight_shapes_per_stage(hypernets, groups):
    model = build(hypernets=hypernets)
    hyper = model.shared['hyper']
    assert len(hyper.generators) == groups
    weights = hyper()
    assert len(weights) == 16 and len(model.adapters) == 16
    for site, w in enumerate(weights):
        d = DIMS[site // 4]
        k = d // 4
        assert w.down.shape == (3, d, k) and w.down_bias.shape == (3, k)
        assert w.up.shape == (3, k, d) and w.up_bias.shape == (3, d)
        assert w.gamma.shape == w.beta.shape == (3, d)
        assert torch.count_nonzero(w.gamma) == 0  # adapters start at 0
        assert torch.count_nonzero(w.beta) == 0
        assert torch.count_nonzero(w.down) > 0
    without_norm = build(hypernets=hypernets, norm=False).shared['hyper']()
    for w in without_norm:
        assert w.gamma is None and w.beta is None
        assert torch.count_nonzero(w.up) == 0
        assert torch.count_nonzero(w.up_bias) == 0


def test_adapter_embedding_and_heads_by_hand():
    model = build()
    randomise_hypernetwork(model)
    hyper = model.shared['hyper']
    site = 13  # stage 3, block 0 (layer 6), after the MLP (position 1)
    z = torch.cat([hyper.task_embed[2], hyper.layer_embed[6],
                   hyper.position_embed[1]])
    hidden = F.relu(z @ hyper.projector[0].weight.t() +
                    hyper.projector[0].bias)
    emb = F.layer_norm(
        hidden @ hyper.projector[2].weight.t() + hyper.projector[2].bias,
        (6, ), hyper.projector_norm.weight, hyper.projector_norm.bias, 1e-6)
    torch.testing.assert_close(hyper.adapter_embedding()[2, site], emb)
    head = hyper.generators[3]  # one per stage: stage 3's heads
    w = hyper()[site]
    torch.testing.assert_close(
        w.down[2], (head.down.weight @ emb + head.down.bias).view(192, 48))
    torch.testing.assert_close(
        w.up[2], (head.up.weight @ emb + head.up.bias).view(48, 192))
    torch.testing.assert_close(w.gamma[2],
                               head.gamma.weight @ emb + head.gamma.bias)


@pytest.mark.parametrize('hypernets,norm', [('stage', True),
                                            ('adapter', False)])
def test_identity_at_init(hypernets, norm):
    """Each task's features are the plain backbone's: exactly those of the
    same batched computation, and to float precision those of a plain
    forward of the images alone."""
    model = build(hypernets=hypernets, norm=norm)
    x = images()
    feats = model(x)
    plain = copy.deepcopy(model).remove_adapters()
    stacked = plain(x.repeat(3, 1, 1, 1))
    alone = plain(x)
    for t, task in enumerate(TASKS):
        for a, b, c in zip(feats[task], stacked, alone):
            assert torch.equal(a, b[2 * t:2 * t + 2])
            torch.testing.assert_close(a, c, rtol=0, atol=1e-5)


def test_tasks_get_different_adapters_from_their_embeddings():
    model = build().eval()
    randomise_hypernetwork(model)
    x = images()
    feats = model(x)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        for fa, fb in zip(feats[TASKS[a]], feats[TASKS[b]]):
            assert (fa - fb).abs().max() > 1e-3
    with torch.no_grad():  # equal task embeddings: equal adapters
        model.shared['hyper'].task_embed.copy_(
            model.shared['hyper'].task_embed[:1].expand(3, -1))
    feats = model(x)
    for task in TASKS[1:]:
        for fa, fb in zip(feats[TASKS[0]], feats[task]):
            torch.testing.assert_close(fa, fb, rtol=0, atol=1e-5)


@pytest.mark.parametrize('hypernets,norm,merged', [('stage', True, False),
                                                   ('adapter', False, True)])
def test_batched_streams_equal_a_per_task_loop(hypernets, norm, merged):
    """Each task's features equal the plain backbone run with that task's
    generated adapters hooked after every proj and fc2 (stage outputs
    before or after the patch merging)."""
    module = tiny_swin(type='SwinTransformerMTL',
                       out_after_downsample=merged)
    model = build(hypernets=hypernets, norm=norm, module=module).eval()
    randomise_hypernetwork(model)
    x = images()
    feats = model(x)
    weights = model.shared['hyper']()
    plain = copy.deepcopy(model).remove_adapters()
    for t, task in enumerate(TASKS):
        handles = []
        for w, name in zip(weights, site_names()):

            def hook(module, args, output, w=w):
                return adapter_by_hand(output, w, t)

            handles.append(plain.get_submodule(name).register_forward_hook(
                hook))
        expected = plain(x)
        for handle in handles:
            handle.remove()
        for a, b in zip(feats[task], expected):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def hand_count(block_widths, tasks, r, e, h, p, hypernets, norm):
    """Hand derivation of the hypernetwork's parameters: embeddings,
    projector, its LayerNorm and the heads of every hypernetwork."""
    total = (tasks + len(block_widths) + 2) * e  # task, layer, position
    total += 3 * e * h + h + h * p + p + 2 * p  # projector, its norm
    widths = sorted(set(block_widths)) if hypernets == 'stage' else [
        w for w in block_widths for _ in range(2)]  # 2 adapters a block
    for d in widths:
        k = d // r
        outputs = 2 * d * k + k + d + (2 * d if norm else 0)
        total += (p + 1) * outputs
    return total


@pytest.mark.parametrize('hypernets,norm', [('stage', True),
                                            ('adapter', False)])
def test_trainable_count_by_hand(hypernets, norm):
    model = build(hypernets=hypernets, norm=norm)
    report = param_report(model)
    widths = [d for d in DIMS for _ in range(2)]
    assert report['adapters'] == hand_count(widths, 3, 4, 8, 12, 6,
                                            hypernets, norm)
    # trainable backbone layer norms: norm1 + norm2 of every block, patch
    # embedding, patch mergings (4 d) and the four output norms
    norms = 2 * (2 * sum(widths) + 24 + sum(4 * d for d in DIMS[:3]) +
                 sum(DIMS))
    assert norms == 4992
    assert report['backbone_trainable'] == report['adapters'] + norms
    assert all('norm' in name for name in model.trainable_names)


def test_gradients_reach_hypernetwork_and_embeddings():
    model = build()
    randomise_hypernetwork(model)
    feats = model(images())
    sum((f * f).sum() for stages in feats.values()
        for f in stages).backward()
    for name, p in model.shared.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.module.named_parameters():
        if 'norm' in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert not p.requires_grad and p.grad is None, name


def test_training_lowers_every_task_loss():
    model = build(embed_dim=16, hidden_dim=16, proj_dim=16)
    assert_training_lowers_every_task_loss(model, lr=1e-2, steps=8)


def test_segmentor_training_lowers_the_loss():
    head = dict(type='MultiScaleFusionHead', in_channels=DIMS,
                channels=(4, 4, 4, 4))
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        backbone=dict(type='Hyperformer', module=tiny_swin(), reduction=4,
                      embed_dim=8, hidden_dim=12, proj_dim=6),
        tasks=dict(
            semseg=dict(head=dict(head, out_channels=5),
                        loss=dict(type='PixelCrossEntropyLoss')),
            normals=dict(head=dict(head, out_channels=3),
                         loss=dict(type='NormalsL1Loss')))))
    model.init_weights()
    x = images(size=32)
    samples = []
    for image in x:  # targets that are functions of the image
        sample = MultiTaskDataSample()
        sample.gt_maps = PixelData(
            semseg=torch.bucketize(image[:1], torch.tensor([-1., 0, 1])),
            normals=F.normalize(image, dim=0))
        sample.set_metainfo(dict(img_shape=(32, 32), ori_shape=(32, 32),
                                 pad_shape=(32, 32),
                                 batch_input_shape=(32, 32)))
        samples.append(sample)
    hyper = model.backbone.shared['hyper']
    start = {n: p.detach().clone() for n, p in hyper.named_parameters()}
    optim = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2)
    totals = []
    for _ in range(4):
        optim.zero_grad()
        loss = sum(model(x, samples, mode='loss').values())
        loss.backward()
        optim.step()
        totals.append(loss.item())
    assert totals[-1] < 0.95 * totals[0], totals
    assert all(not torch.equal(p, start[n])
               for n, p in hyper.named_parameters())


def test_state_dict_keys_of_the_wrapped_backbone_unchanged():
    model = build()
    plain = MODELS.build(tiny_swin())
    assert list(model.module.state_dict()) == list(plain.state_dict())
    model.module.load_state_dict(plain.state_dict(), strict=True)
    extra = [k for k in model.state_dict() if not k.startswith('module.')]
    assert extra and all(k.startswith('shared.hyper.') for k in extra)
    assert 'shared.hyper.layer_ids' not in model.state_dict()
    fresh = build()
    fresh.load_state_dict(model.state_dict(), strict=True)


def test_bad_arguments_and_unsupported_backbone():
    with pytest.raises(ValueError, match='hypernets'):
        build(hypernets='layer')
    with pytest.raises(ValueError, match='reduction factor 5'):
        build(reduction=5)
    with pytest.raises(TypeError, match='backbone support'):
        MODELS.build(dict(type='Hyperformer', tasks=TASKS,
                          module=dict(type='ToyAdapterBackbone')))


def test_pascal_config_count_matches_hand_derivation():
    cfg = load_config(osp.join(
        REPO, 'configs/hyperformer/hyperformer_swin_t_pascal.py'))
    report = param_report(MODELS.build(cfg.model), 'mtlora')
    widths = [96] * 2 + [192] * 2 + [384] * 6 + [768] * 2
    hyper = hand_count(widths, 4, 8, 64, 128, 64, 'adapter', False)
    assert report['adapters'] == hyper == 70_767_760
    # layer norms: blocks, patch embedding, mergings (no output norms after
    # the merging)
    norms = 2 * (2 * sum(widths) + 96 + 4 * (96 + 192 + 384))
    assert report['backbone_trainable'] == hyper + norms == 70_790_992
    assert report['heads_total'] == 1_946_624
    assert report['total_trainable'] == 72_737_616
    assert round(report['total_trainable'] / 1e6, 2) == 72.74  # pub. 72.77
    # the class defaults (Hyperformer++: per-stage hypernetworks, r = 32,
    # generated norms)
    assert hand_count(widths, 4, 32, 64, 128, 64, 'stage',
                      True) == 3_500_365
