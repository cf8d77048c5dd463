"""Polyhistor / Polyhistor-Lite: generated weights, scaling kernels,
gradients, batched task streams vs a per-task loop, counts, training."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmmtl.models.adapters import param_report
from mmmtl.registry import MODELS
from toy_backbones import (assert_training_lowers_every_task_loss, images,
                           tiny_swin)

TASKS = ('semseg', 'human_parts', 'saliency')
WIDTHS = [24, 24, 48, 48, 96, 96, 192, 192]  # tiny Swin, two blocks a stage


def build(kind='Polyhistor', tasks=TASKS, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type=kind, module=tiny_swin(), tasks=tasks, bottleneck=4,
               embed_dim=8, hyper_dim=6)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def randomise_hypernetwork(model, seed=0):
    """Non-zero up heads (zero at init) and non-trivial scaling kernels."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.shared['hyper'].parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))


@pytest.mark.parametrize('kind,templates', [('Polyhistor', [24, 48, 96, 192]),
                                            ('PolyhistorLite', [24])])
def test_generated_weights_shapes_and_scaling_kernels(kind, templates):
    model = build(kind)
    hyper = model.shared['hyper']
    assert hyper.template_widths == templates
    kernels = hyper()
    assert len(kernels) == len(WIDTHS)
    for (down, up), width in zip(kernels, WIDTHS):
        assert down.shape == (3, width, 4) and up.shape == (3, 4, width)
        assert torch.count_nonzero(up) == 0  # adapters start at zero
    expected = {} if kind == 'Polyhistor' else {
        str(i): w // 24 for i, w in enumerate(WIDTHS) if w > 24}
    assert {k: len(v) for k, v in hyper.scaling.items()} == expected
    if kind == 'PolyhistorLite':
        randomise_hypernetwork(model)
        z = hyper.joint_embedding()
        down, up = hyper()[6]  # stage 3: width 192 = 8 x 24
        scale = hyper.scaling['6']
        for t in range(3):
            template_down = hyper.down_heads[0](z[t, 6]).view(24, 4)
            template_up = hyper.up_heads[0](z[t, 6]).view(4, 24)
            torch.testing.assert_close(
                down[t], torch.kron(scale[:, None], template_down))
            torch.testing.assert_close(
                up[t], torch.kron(scale[None, :], template_up))


def test_joint_embedding_by_hand():
    hyper = build().shared['hyper']
    z = hyper.joint_embedding()
    pair = torch.cat([hyper.task_embed[1], hyper.layer_embed[5]])
    torch.testing.assert_close(z[1, 5], F.relu(hyper.project(pair)))


def test_tasks_get_different_weights_and_gradients_reach_the_hypernet():
    model = build()
    randomise_hypernetwork(model)
    kernels = model.shared['hyper']()
    for down, up in kernels:
        assert not torch.allclose(down[0], down[1])
        assert not torch.allclose(up[0], up[2])
    feats = model(images())
    sum((f * f).sum() for stages in feats.values()
        for f in stages).backward()
    for name, p in model.shared.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.module.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    lite = build('PolyhistorLite')
    randomise_hypernetwork(lite)
    feats = lite(images())
    sum((f * f).sum() for stages in feats.values()
        for f in stages).backward()
    assert all(k.grad.abs().sum() > 0 for k in lite.shared[
        'hyper'].scaling.values())


@pytest.mark.parametrize('kind', ['Polyhistor', 'PolyhistorLite'])
def test_batched_streams_equal_a_per_task_loop(kind):
    """Each task's features equal the plain backbone run with that task's
    generated adapters hooked beside every MLP."""
    model = build(kind).eval()
    randomise_hypernetwork(model)
    x = images()
    feats = model(x)
    kernels = model.shared['hyper']()
    plain = copy.deepcopy(model).remove_adapters()
    for t, task in enumerate(TASKS):
        handles = []
        for layer, (stage, name) in enumerate(
                (s, f'stages.{s}.blocks.{b}.ffn') for s in range(4)
                for b in range(2)):
            down, up = kernels[layer][0][t], kernels[layer][1][t]

            def hook(module, args, output, down=down, up=up):
                return output + F.gelu(args[0] @ down) @ up

            handles.append(plain.get_submodule(name).register_forward_hook(
                hook))
        expected = plain(x)
        for handle in handles:
            handle.remove()
        for a, b in zip(feats[task], expected):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert not torch.allclose(feats['semseg'][0], feats['saliency'][0])


def test_kernels_cached_in_inference_until_the_parameters_change():
    model = build().eval()
    hyper = model.shared['hyper']
    with torch.no_grad():
        first = hyper()
        assert hyper() is first
        hyper.task_embed.add_(0.1)
        second = hyper()
    assert second is not first
    assert not torch.equal(second[0][0], first[0][0])
    model.train()
    assert hyper() is not hyper()  # training: generated every forward


def test_bad_templates_and_unsupported_backbone():
    with pytest.raises(ValueError, match='templates'):
        build(templates='layer')
    with pytest.raises(TypeError, match='backbone support'):
        MODELS.build(dict(type='Polyhistor', tasks=TASKS,
                          module=dict(type='ToyAdapterBackbone')))


@pytest.mark.parametrize('kind,steps', [('Polyhistor', 15),
                                        ('PolyhistorLite', 40)])
def test_training_lowers_every_task_loss(kind, steps):
    """Lite's shared templates learn per-channel targets more slowly."""
    model = build(kind, embed_dim=16, hyper_dim=16)
    assert_training_lowers_every_task_loss(model, lr=1e-2, steps=steps)


def swin_t_hypernet_count(kind, k=32, embed=64, hyper=64, num_tasks=4):
    """Hand derivation of the hypernetwork's parameters on Swin-T."""
    widths = [96] * 2 + [192] * 2 + [384] * 6 + [768] * 2
    total = (num_tasks + len(widths)) * embed  # task and layer embeddings
    total += 2 * embed * hyper + hyper  # joint projection
    if kind == 'Polyhistor':  # down and up heads per stage width
        total += sum(2 * (hyper * w * k + w * k) for w in (96, 192, 384, 768))
    else:  # one pair of heads at width 96, scaling kernels d_l / 96 > 1
        total += 2 * (hyper * 96 * k + 96 * k)
        total += sum(w // 96 for w in widths if w > 96)
    return total


@pytest.mark.parametrize('kind', ['Polyhistor', 'PolyhistorLite'])
def test_swin_t_counts_match_hand_derivation(kind):
    head = dict(type='MultiScaleFusionHead', in_channels=[96, 192, 384, 768])
    tasks = {t: dict(head=dict(head, out_channels=o),
                     loss=dict(type='PixelCrossEntropyLoss'))
             for t, o in dict(semseg=21, human_parts=7, saliency=1,
                              normals=3).items()}
    model = MODELS.build(dict(type='MultiTaskSegmentor', tasks=tasks,
                              backbone=dict(type=kind, module=dict(
                                  type='SwinTransformer'))))
    report = param_report(model, 'mtlora')
    assert report['backbone_trainable'] == swin_t_hypernet_count(kind)
    assert report['adapters'] == report['backbone_trainable']
    assert report['heads_total'] == 1_801_472
    assert report['total_trainable'] == {
        'Polyhistor': 7_801_152, 'PolyhistorLite': 2_210_156}[kind]
