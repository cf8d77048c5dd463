"""MultiTaskSegmentor: losses, single backbone pass, routing, predict."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from torch import nn

from mmmtl.models.heads import DenseTaskHead
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

TINY_SWIN = dict(type='SwinTransformer', pretrain_img_size=64, embed_dims=24,
                 depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1), window_size=4,
                 out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
CHANNELS = [24, 48, 96, 192]
WEIGHTS = dict(semseg=1.0, human_parts=2.0, saliency=5.0, normals=10.0,
               edges=50.0, depth=1.0)


@MODELS.register_module(force=True)
class _TestPassThroughHead(DenseTaskHead):
    """Returns the first ``out_channels`` channels of one feature map."""

    def forward(self, feats):
        return self.select_inputs(feats)[0][:, :self.out_channels]


@MODELS.register_module(force=True)
class _TestTaskFeatureBackbone(nn.Module):
    """Task-specific features: task number ``i`` gets the constant ``i``."""
    accepts_tasks = True

    def __init__(self, tasks, drop=None):
        super().__init__()
        self.tasks = tasks
        self.drop = drop
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        b, _, h, w = x.shape
        return {task: [self.scale * torch.full((b, 3, h // 4, w // 4),
                                               float(i))]
                for i, task in enumerate(self.tasks) if task != self.drop}


@MODELS.register_module(force=True)
class _TestImageBackbone(nn.Module):
    """Returns the image itself and its 4x average-pooled version."""

    def forward(self, x):
        return [x, F.avg_pool2d(x, 4)]


def _tasks_cfg():
    def conv_head(out_channels):
        return dict(type='ConvTaskHead', in_channels=CHANNELS[0],
                    out_channels=out_channels, channels=8)
    heads = dict(
        semseg=dict(type='MultiScaleFusionHead', in_channels=CHANNELS,
                    out_channels=5, channels=(4, 4, 4, 4), expansion=1),
        human_parts=conv_head(3), saliency=conv_head(1),
        normals=conv_head(3), edges=conv_head(1), depth=conv_head(1))
    losses = dict(semseg='PixelCrossEntropyLoss',
                  human_parts='PixelCrossEntropyLoss',
                  saliency='BalancedBCELoss', normals='NormalsL1Loss',
                  edges='WeightedBCELoss', depth='DepthL1Loss')
    return {task: dict(head=heads[task], loss=dict(type=losses[task]),
                       loss_weight=WEIGHTS[task]) for task in heads}


def _gt_maps(gen, img_shape, pad_shape):
    """Random gt per task at ``pad_shape``, ignore values outside the image.
    """
    h, w = img_shape
    maps = dict(
        semseg=torch.randint(0, 5, (1, ) + pad_shape, generator=gen),
        human_parts=torch.randint(0, 3, (1, ) + pad_shape, generator=gen),
        saliency=torch.randint(0, 2, (1, ) + pad_shape, generator=gen),
        edges=torch.randint(0, 2, (1, ) + pad_shape, generator=gen),
        normals=F.normalize(torch.randn((3, ) + pad_shape, generator=gen),
                            dim=0),
        depth=torch.rand((1, ) + pad_shape, generator=gen) + 0.5)
    for task, gt in maps.items():
        ignore = 255 if gt.dtype == torch.int64 else 0.0
        gt[:, h:, :] = ignore
        gt[:, :, w:] = ignore
    maps['human_parts'][:, :4, :4] = 255
    return maps


def _samples(img_shapes, pad_shape=(64, 64), seed=0, with_gt=True):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i, img_shape in enumerate(img_shapes):
        sample = MultiTaskDataSample(metainfo=dict(
            img_path=f'img_{i}.jpg', img_shape=img_shape,
            ori_shape=img_shape, pad_shape=pad_shape,
            batch_input_shape=pad_shape))
        if with_gt:
            sample.gt_maps = PixelData(**_gt_maps(gen, img_shape, pad_shape))
        samples.append(sample)
    return samples


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(dict(type='MultiTaskSegmentor', backbone=TINY_SWIN,
                             tasks=_tasks_cfg()))


def _normals_loss(pred, gt):
    pred = pred / (pred.norm(dim=1, keepdim=True) + 1e-12)
    valid = gt.abs().sum(1, keepdim=True) > 0
    return ((pred - gt).abs() * valid).sum() / (3 * valid.sum())


def _class_weighted_bce(pred, gt, pos_weight):
    valid = gt != 255
    y = (gt == 1).float()
    bce = F.binary_cross_entropy_with_logits(pred, y, reduction='none')
    n_valid = valid.sum()
    w = ((gt == 0).sum() / n_valid) if pos_weight is None else pos_weight
    pos = (bce * (valid & (gt == 1))).sum()
    neg = (bce * (valid & (gt == 0))).sum()
    return (w * pos + (1 - w) * neg) / n_valid


def _reference_loss(task, pred, gt):
    if task in ('semseg', 'human_parts'):
        return F.cross_entropy(pred, gt[:, 0], ignore_index=255)
    if task == 'saliency':
        return _class_weighted_bce(pred, gt, None)
    if task == 'edges':
        return _class_weighted_bce(pred, gt, 0.95)
    if task == 'normals':
        return _normals_loss(pred, gt)
    valid = gt > 0
    return (pred - gt).abs()[valid].mean()


def test_loss_keys_weights_and_values(model):
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, 64, 64)
    samples = _samples([(64, 64), (56, 48)])
    model.eval()  # BN uses running stats: both passes see the same logits
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {f'loss_{t}' for t in WEIGHTS}
    logits = model(inputs, samples, mode='tensor')
    for task, weight in WEIGHTS.items():
        pred = F.interpolate(logits[task], size=(64, 64), mode='bilinear',
                             align_corners=False)
        gt = torch.stack([s.gt_maps.get(task) for s in samples])
        expected = weight * _reference_loss(task, pred, gt)
        assert losses[f'loss_{task}'].item() == pytest.approx(
            expected.item(), rel=1e-5), task


def test_backward_reaches_heads_and_backbone(model):
    model.train()
    model.zero_grad()
    losses = model(torch.randn(2, 3, 64, 64), _samples([(64, 64)] * 2),
                   mode='loss')
    sum(losses.values()).backward()
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0
    for task, head in model.heads.items():
        assert all(p.grad is not None for p in head.parameters()), task


def test_backbone_runs_once_per_batch(model):
    calls = []
    handle = model.backbone.register_forward_hook(
        lambda *args: calls.append(1))
    try:
        model(torch.randn(2, 3, 64, 64), _samples([(64, 64)] * 2),
              mode='loss')
        assert len(calls) == 1
        model.eval()
        model(torch.randn(1, 3, 64, 64), _samples([(64, 64)]),
              mode='predict')
        assert len(calls) == 2
    finally:
        handle.remove()


def test_task_specific_features_are_routed():
    tasks = ('semseg', 'normals', 'depth')
    cfg = dict(
        type='MultiTaskSegmentor',
        backbone=dict(type='_TestTaskFeatureBackbone'),
        tasks={t: dict(head=dict(type='_TestPassThroughHead', in_channels=3,
                                 out_channels=1),
                       loss=dict(type='DepthL1Loss')) for t in tasks})
    model = MODELS.build(cfg)
    assert model.backbone.tasks == tasks
    logits = model(torch.zeros(1, 3, 16, 16), mode='tensor')
    for i, task in enumerate(tasks):
        assert logits[task].shape == (1, 1, 4, 4)
        assert torch.all(logits[task] == i), task
    cfg['backbone'] = dict(type='_TestTaskFeatureBackbone', drop='normals')
    with pytest.raises(KeyError, match='normals'):
        MODELS.build(cfg)(torch.zeros(1, 3, 16, 16), mode='tensor')


def _image_model(**test_cfg):
    def head(out_channels, in_index):
        return dict(type='_TestPassThroughHead', in_channels=3,
                    out_channels=out_channels, in_index=in_index)
    tasks = dict(semseg=(3, 1), saliency=(1, 0), normals=(3, 0),
                 depth=(1, 0))
    return MODELS.build(dict(
        type='MultiTaskSegmentor', backbone=dict(type='_TestImageBackbone'),
        tasks={t: dict(head=head(*args), loss=dict(type='DepthL1Loss'))
               for t, args in tasks.items()},
        test_cfg=test_cfg or None))


def _constant_image(img_shape, pad_shape=(64, 64)):
    """(1, 3, H, W): (1, 3, 2) inside ``img_shape``, -100 in the padding."""
    image = torch.full((1, 3) + pad_shape, -100.0)
    image[:, :, :img_shape[0], :img_shape[1]] = torch.tensor(
        [1.0, 3.0, 2.0]).view(1, 3, 1, 1)
    return image


@pytest.mark.parametrize('output_size,out_shape', [('original', (96, 80)),
                                                   ('input', (48, 40))])
def test_predict_crops_resizes_and_postprocesses(output_size, out_shape):
    model = _image_model(output_size=output_size)
    sample = MultiTaskDataSample(metainfo=dict(
        img_shape=(48, 40), ori_shape=(96, 80), pad_shape=(64, 64),
        batch_input_shape=(64, 64)))
    sample.gt_maps = PixelData(depth=torch.ones(1, 96, 80))
    (pred, ) = model(_constant_image((48, 40)), [sample], mode='predict')
    maps = pred.pred_maps
    assert maps.metainfo == {}
    assert 'depth' in pred.gt_maps
    assert maps.semseg.shape == (1, ) + out_shape
    assert maps.semseg.dtype == torch.int64
    assert torch.all(maps.semseg == 1)
    assert maps.saliency.dtype == torch.float32
    assert torch.allclose(maps.saliency, torch.full_like(
        maps.saliency, 1 / (1 + math.exp(-1.0))))
    assert maps.normals.shape == (3, ) + out_shape
    expected = torch.tensor([1.0, 3.0, 2.0]).view(3, 1, 1) / math.sqrt(14)
    assert torch.allclose(maps.normals, expected.expand_as(maps.normals),
                          atol=1e-6)
    assert maps.depth.shape == (1, ) + out_shape
    assert torch.allclose(maps.depth, torch.ones_like(maps.depth))


def test_predict_refuses_non_finite_logits_naming_task_and_image(model):
    """NaN logits are refused (argmax would call them class 0)."""
    samples = _samples([(64, 64)], with_gt=False)
    head = model.heads['semseg']
    cls = [m for m in head.modules() if isinstance(m, nn.Conv2d)][-1]
    saved = cls.bias.detach().clone()
    with torch.no_grad():
        cls.bias.fill_(float('nan'))
    try:
        with pytest.raises(ValueError, match=r"task 'semseg'.*img_0\.jpg"):
            model.eval()(torch.zeros(1, 3, 64, 64), samples, mode='predict')
    finally:
        with torch.no_grad():
            cls.bias.copy_(saved)


def test_predict_without_samples_uses_input_shape():
    (pred, ) = _image_model()(_constant_image((64, 64)), mode='predict')
    assert pred.pred_maps.depth.shape == (1, 64, 64)


def test_unknown_task_lists_known_tasks():
    cfg = _tasks_cfg()
    cfg['shadows'] = cfg.pop('depth')
    with pytest.raises(KeyError, match='known tasks'):
        MODELS.build(dict(type='MultiTaskSegmentor', backbone=TINY_SWIN,
                          tasks=cfg))


@pytest.mark.parametrize('key', ['head', 'loss'])
def test_missing_head_or_loss_names_the_key(key):
    cfg = _tasks_cfg()
    del cfg['normals'][key]
    with pytest.raises(KeyError, match=f"tasks.normals has no '{key}'"):
        MODELS.build(dict(type='MultiTaskSegmentor', backbone=TINY_SWIN,
                          tasks=cfg))


def test_missing_gt_names_task_and_image(model):
    samples = _samples([(64, 64)])
    del samples[0].gt_maps.edges
    with pytest.raises(KeyError, match="'edges'.*img_0.jpg"):
        model(torch.randn(1, 3, 64, 64), samples, mode='loss')


def test_train_step_with_preprocessor():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                               mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                               size_divisor=32),
        backbone=TINY_SWIN, tasks=_tasks_cfg()))
    shapes = [(60, 52), (40, 64)]
    samples = []
    gen = torch.Generator().manual_seed(3)
    for i, shape in enumerate(shapes):
        sample = MultiTaskDataSample(metainfo=dict(
            img_path=f'img_{i}.jpg', img_shape=shape, ori_shape=shape))
        sample.gt_maps = PixelData(**_gt_maps(gen, shape, shape))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 256, (3, ) + s, dtype=torch.uint8)
                        for s in shapes], data_samples=samples)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    before = model.heads['depth'].cls.weight.detach().clone()
    log_vars = model.train_step(data, wrapper)
    assert math.isfinite(log_vars['loss'].item())
    assert set(log_vars) >= {f'loss_{t}' for t in WEIGHTS}
    assert not torch.equal(before, model.heads['depth'].cls.weight)


def _pascal_full_ft_cfg() -> Config:
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', '..',
                                   'configs', 'full_ft',
                                   'full_ft_mtl_swin_t_pascal.py'))
    cfg.model.backbone.pretrained = None
    return cfg


def test_pascal_config_builds_swin_t_with_reference_heads():
    """The PASCAL-Context Swin-T experiment: mmseg Swin-T (27,520,698
    params), the four tasks of the published tables with their weights and
    channels, heads fed the backbone's channels; task_cfgs also has edges.
    """
    cfg = _pascal_full_ft_cfg()
    model = MODELS.build(cfg.model)
    assert type(model.data_preprocessor).__name__ == (
        'MultiTaskDataPreProcessor')
    assert model.loss_weights == dict(semseg=1.0, human_parts=2.0,
                                      saliency=5.0, normals=10.0)
    assert {t: h.out_channels for t, h in model.heads.items()} == dict(
        semseg=21, human_parts=7, saliency=1, normals=3)
    assert all(h.in_channels == [96, 192, 384, 768]
               for h in model.heads.values())
    assert sum(p.numel() for p in model.backbone.parameters()) == 27520698
    assert cfg.task_cfgs.edges.loss_weight == 50.0


def test_task_names_select_a_single_task_variant():
    cfg = _pascal_full_ft_cfg()
    cfg.model.task_names = ['normals']
    model = MODELS.build(cfg.model)
    assert model.task_names == ('normals', )
    assert list(model.heads) == ['normals']
    cfg.model.task_names = ['normals', 'depth']
    with pytest.raises(KeyError, match=r"names \['depth'\].*semseg"):
        MODELS.build(cfg.model)


def _conv_head_model(head_init_cfgs, init_cfg=None):
    """ConvTaskHeads on the image; ``head_init_cfgs``: task -> init_cfg."""
    return MODELS.build(dict(
        type='MultiTaskSegmentor', backbone=dict(type='_TestImageBackbone'),
        tasks={t: dict(head=dict(type='ConvTaskHead', in_channels=3,
                                 out_channels=1, channels=4, init_cfg=cfg),
                       loss=dict(type='DepthL1Loss'))
               for t, cfg in head_init_cfgs.items()},
        init_cfg=init_cfg))


def test_init_weights_applies_each_head_init_cfg():
    model = _conv_head_model(dict(
        depth=dict(type='Constant', val=0.5, layer='Conv2d'), saliency=None))
    model.init_weights()
    assert torch.all(model.heads['depth'].cls.weight == 0.5)
    assert torch.all(model.heads['depth'].cls.bias == 0)
    assert not torch.all(model.heads['saliency'].cls.weight == 0.5)
    assert model.heads['depth'].is_init and model.heads['saliency'].is_init


def test_init_weights_order_segmentor_then_heads_then_pretrained(tmp_path):
    """mmengine's order: the segmentor's own initialisers, then each
    head's, then the segmentor's Pretrained checkpoint (loaded weights
    win)."""
    path = tmp_path / 'heads.pth'
    torch.save({'heads.depth.cls.weight': torch.full((1, 4, 1, 1), 2.0)},
               path)
    model = _conv_head_model(
        dict(depth=dict(type='Constant', val=0.5, layer='Conv2d'),
             saliency=dict(type='Constant', val=0.5, layer='Conv2d'),
             semseg=None),
        init_cfg=[dict(type='Constant', val=0.1, layer='Conv2d'),
                  dict(type='Pretrained', checkpoint=str(path))])
    own_init_cfg = list(model.init_cfg)
    model.init_weights()
    assert torch.all(model.heads['depth'].cls.weight == 2.0)
    assert torch.all(model.heads['saliency'].cls.weight == 0.5)
    assert torch.all(model.heads['semseg'].cls.weight == 0.1)
    assert model.init_cfg == own_init_cfg


def test_init_log_names_each_head_init_cfg(tmp_path):
    """The init log (mmengine writes it to the log file) says what set each
    head parameter; it used to be written before the heads were
    initialised, claiming all of them unchanged, and ConvModule re-ran its
    own init over the head's init_cfg."""
    from mmengine.logging import MMLogger
    log_file = tmp_path / 'init.log'
    MMLogger.get_instance(f'init_log_{tmp_path.name}', log_file=str(log_file))
    model = _conv_head_model(dict(depth=dict(
        type='Constant', val=0.5, bias=0., layer='Conv2d')))
    model.init_weights()
    text = log_file.read_text()
    for name in ('conv.conv.weight', 'cls.weight'):
        entry = text.split(f'heads.depth.{name} - ')[1].split('\n\n')[0]
        assert 'ConstantInit: val=0.5' in entry, entry
    assert torch.all(model.heads['depth'].conv.conv.weight == 0.5)
