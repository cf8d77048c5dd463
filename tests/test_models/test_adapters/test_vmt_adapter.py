"""VMT-Adapter / VMT-Adapter-Lite on mmseg Swin and on a toy backbone."""
import copy
import re

import pytest
import torch
import torch.nn.functional as F

from mmmtl.models.adapters import TaskContext, VMTLayer, param_report
from mmmtl.models.adapters.mechanism.context import activate
from mmmtl.registry import MODELS
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'human_parts', 'saliency', 'normals')


def build(kind='VMTAdapter', tasks=TASKS, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type=kind, module=tiny_swin(), tasks=tasks, bottleneck=8)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def randomise(layer: VMTLayer, seed: int = 0) -> None:
    """Give every parameter of ``layer`` non-trivial random values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def sum_loss(feats, weights):
    """sum_t <feats_t, w_t> over every stage: distinct per-task gradients."""
    return sum((f * w).sum() for task in feats
               for f, w in zip(feats[task], weights[task]))


def test_insertion_sites_per_stage():
    model = build()
    assert len(model.adapters) == 8
    per_stage = {}
    for key in model.adapters:
        stage = int(key.split('_')[1])
        per_stage[stage] = per_stage.get(stage, 0) + 1
    assert per_stage == {0: 2, 1: 2, 2: 2, 3: 2}
    assert model.sites_per_output() == {
        i: [f'stages.{i}.blocks.1.ffn'] for i in range(4)}
    dims = [layer.channels for layer in model.adapters.values()]
    assert dims == [24, 24, 48, 48, 96, 96, 192, 192]
    everywhere = build(task_features='all')
    assert {i: len(v) for i, v in everywhere.sites_per_output().items()} == {
        0: 2, 1: 2, 2: 2, 3: 2}
    shared_only = build(task_features=None)
    assert isinstance(shared_only(images()), list)


def test_bad_inputs_name_the_key():
    targets = r'stages\.\d+\.blocks\.\d+\.mlp'
    with pytest.raises(ValueError, match=re.escape(repr(targets))):
        build(targets=targets)
    with pytest.raises(ValueError, match=r"bottleneck 32 .* 24 channels of "
                       r"'stages.0.blocks.0.ffn'"):
        build(bottleneck=32)
    with pytest.raises(ValueError, match='stage_points pattern'):
        build(stage_points={r'stages\.9\.blocks\.1\.ffn': 0})
    with pytest.raises(ValueError, match="trainable pattern 'nrom'"):
        build(trainable=['nrom'])
    with pytest.raises(ValueError, match='knowledge'):
        build(knowledge='mlp')
    with pytest.raises(ValueError, match='task_features'):
        build(task_features='first')
    with pytest.raises(ValueError, match='non-empty'):
        build(tasks=())


@pytest.mark.parametrize('knowledge', ['affine', 'dwconv'])
@pytest.mark.parametrize('tied', [False, True])
def test_mean_knowledge_equals_mean_of_task_adapters(knowledge, tied):
    layer = VMTLayer(12, 5, TASKS, scale=0.7, knowledge=knowledge, tied=tied)
    randomise(layer)
    u = torch.randn(2, 12, 12)
    with activate(TaskContext(tasks=TASKS, batch_size=2, hw_shape=(3, 4))):
        per_task = layer.forward_per_task(u)
        unified = layer(u)
        shared, residuals = layer.forward_with_tasks(u)
    mean = torch.stack(list(per_task.values())).mean(0)
    torch.testing.assert_close(unified, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(shared, mean, rtol=1e-5, atol=1e-6)
    for task in TASKS:
        torch.testing.assert_close(shared + residuals[task], per_task[task],
                                   rtol=1e-5, atol=1e-6)


def test_layer_equations_by_hand():
    layer = VMTLayer(6, 3, ('a', 'b'), scale=0.5)
    randomise(layer, seed=3)
    u = torch.randn(4, 6)
    h = F.gelu(u @ layer.down.weight.t() + layer.down.bias)
    a = [(h * layer.gamma[t] + layer.beta[t]) @ layer.up.weight.t() +
         layer.up.bias for t in range(2)]
    torch.testing.assert_close(layer(u), 0.5 * (a[0] + a[1]) / 2)
    lite = VMTLayer(6, 3, ('a', 'b'), tied=True)
    randomise(lite, seed=4)
    h = F.gelu(u @ lite.down.weight.t() + lite.down.bias)
    a = [(h * lite.gamma[t] + lite.beta[t]) @ lite.down.weight + lite.up_bias
         for t in range(2)]
    torch.testing.assert_close(lite(u), (a[0] + a[1]) / 2)


@pytest.mark.parametrize('kind', ['VMTAdapter', 'VMTAdapterLite'])
def test_identity_at_init_equals_frozen_backbone(kind):
    model = build(kind).eval()
    plain = MODELS.build(tiny_swin())
    plain.eval()  # mmseg Swin's train() returns None
    plain.load_state_dict(model.module.state_dict())
    x = images()
    expected = plain(x)
    feats = model(x)
    assert set(feats) == set(TASKS)
    for task in TASKS:
        for a, b in zip(feats[task], expected):
            assert torch.equal(a, b)


def test_init_weights_reinitialises_adapters_after_backbone():
    model = build()
    with torch.no_grad():
        for layer in model.adapters.values():
            randomise(layer)
    model.init_weights()
    for layer in model.adapters.values():
        assert torch.count_nonzero(layer.up.weight) == 0
        assert torch.count_nonzero(layer.up.bias) == 0
        assert torch.all(layer.gamma == 1) and torch.all(layer.beta == 0)
        bound = layer.channels**-0.5
        assert layer.down.weight.abs().max() <= bound  # nn.Linear's init
    lite = build('VMTAdapterLite')
    assert all(torch.all(layer.gamma == 0) for layer in lite.adapters.values())


@pytest.mark.parametrize('kind', ['VMTAdapter', 'VMTAdapterLite'])
def test_frozen_stay_trainable_move_and_tasks_diverge(kind):
    model = build(kind, trainable=[r'^norm\d\.'])
    frozen = {n: p.clone() for n, p in model.module.named_parameters()
              if not p.requires_grad}
    assert model.trainable_names == [f'norm{i}.{w}' for i in range(4)
                                     for w in ('weight', 'bias')]
    adapters = {n: p.clone() for n, p in model.adapters.named_parameters()}
    # SGD, not Adam: Adam's first steps move every task's gamma by the same
    # +-lr, which can leave the tasks equal where the gradient signs agree
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = images()
    gen = torch.Generator().manual_seed(1)
    weights = {t: [torch.randn(f.shape, generator=gen) for f in feats]
               for t, feats in model(x).items()}
    for _ in range(2):
        optim.zero_grad()
        sum_loss(model(x), weights).backward()
        for name, p in model.module.named_parameters():
            if name in frozen:
                assert p.grad is None, name
        optim.step()
    for name, p in model.module.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
    for name, p in model.adapters.named_parameters():
        assert not torch.equal(p, adapters[name]), name
    feats = model.eval()(x)
    for i in range(4):
        assert not torch.allclose(feats['semseg'][i], feats['normals'][i])


def test_one_backbone_forward_whatever_the_number_of_tasks():
    for tasks in (('semseg', ), TASKS, tuple(f't{i}' for i in range(8))):
        model = build(tasks=tasks)
        calls = {'backbone': 0, 'ffn': 0}

        def count(key):
            def hook(*_):
                calls[key] += 1
            return hook

        model.module.register_forward_hook(count('backbone'))
        model.module.stages[0].blocks[1].ffn.register_forward_hook(
            count('ffn'))
        feats = model(images())
        assert len(feats) == len(tasks)
        assert calls == {'backbone': 1, 'ffn': 1}


def test_deepcopy_and_remove():
    model = build().eval()
    with torch.no_grad():
        for layer in model.adapters.values():
            randomise(layer)
    x = images()
    before = model(x)
    clone = copy.deepcopy(model)
    after = clone(x)
    for task in TASKS:
        for a, b in zip(after[task], before[task]):
            assert torch.equal(a, b)
    hooks = [h for _, h, _ in clone._sites]
    assert all(h.adapter is clone.adapters[t.replace('.', '_')]
               for (t, _, _), h in zip(clone._sites, hooks))
    plain = MODELS.build(tiny_swin())
    plain.eval()  # mmseg Swin's train() returns None
    plain.load_state_dict(model.module.state_dict())
    for a, b in zip(clone.remove_adapters()(x), plain(x)):
        assert torch.equal(a, b)
    assert torch.equal(model(x)['semseg'][0], before['semseg'][0])


def test_dwconv_knowledge_on_swin_tokens():
    model = build(knowledge='dwconv').eval()
    plain = MODELS.build(tiny_swin())
    plain.eval()  # mmseg Swin's train() returns None
    plain.load_state_dict(model.module.state_dict())
    x = images()
    for a, b in zip(model(x)['saliency'], plain(x)):
        assert torch.equal(a, b)
    layer = model.adapters['stages_0_blocks_1_ffn']
    assert layer.kernel.shape == (4, 8, 3, 3)
    with pytest.raises(ValueError, match="'probes'"):
        layer(torch.randn(1, 64, 24))  # tokens outside a probed block


def test_training_lowers_every_task_loss():
    model = build(bottleneck=8)
    x = images()
    with torch.no_grad():
        start = model(x)
    gen = torch.Generator().manual_seed(2)
    targets = {t: [f + torch.randn(1, f.shape[1], 1, 1, generator=gen)
                   for f in feats] for t, feats in start.items()}

    def losses():
        feats = model(x)
        return {t: sum(F.mse_loss(f, g) for f, g in
                       zip(feats[t], targets[t])) for t in TASKS}

    optim = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=3e-2)
    first = {t: v.item() for t, v in losses().items()}
    for _ in range(15):
        optim.zero_grad()
        sum(losses().values()).backward()
        optim.step()
    last = {t: v.item() for t, v in losses().items()}
    for task in TASKS:
        assert last[task] < 0.9 * first[task], (task, first, last)


def swin_t(kind, bottleneck=None):
    cfg = dict(type=kind, module=dict(type='SwinTransformer'), tasks=TASKS)
    if bottleneck is not None:
        cfg['bottleneck'] = bottleneck
    return MODELS.build(cfg)


def test_swin_t_counts_match_hand_derivation_and_paper():
    depths, embed = (2, 2, 6, 2), 96
    dims = [embed * 2**i for i, n in enumerate(depths) for _ in range(n)]
    assert sum(dims) == 4416 and len(dims) == 12
    num_tasks = len(TASKS)

    def vmt(k):  # D (d*k + k) + U (k*d + d) + gamma, beta (2*T*k)
        return sum(d * k + k + k * d + d + 2 * num_tasks * k for d in dims)

    def lite(k):  # D (d*k + k), up bias (d), gamma, beta (2*T*k)
        return sum(d * k + k + d + 2 * num_tasks * k for d in dims)

    swin_total = 27_520_698
    for kind, k, expected, paper in (('VMTAdapter', 30, vmt(30), 1.00),
                                     ('VMTAdapterLite', 21, lite(21), 0.36)):
        report = param_report(swin_t(kind))
        assert report['backbone_total'] == swin_total
        assert report['backbone_trainable'] == expected
        assert report['adapters'] == expected
        assert report['wrapped_trainable'] == 0
        pct = 100 * expected / swin_total
        assert report['backbone_trainable_pct'] == pytest.approx(pct)
        assert abs(pct - paper) / paper < 0.02, (kind, pct)
    assert vmt(30) == 272_616 and lite(21) == 99_420
