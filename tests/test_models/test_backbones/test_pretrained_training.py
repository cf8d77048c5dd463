"""A tiny multi-task model trains from converted checkpoints with VMTAdapter.

(a) VMTAdapter around ``SwinTransformerMTL`` (mmseg Swin) whose
``pretrained`` is a timm-layout Swin ``.safetensors``; (b) VMTAdapter
around ``TimmMultiScaleBackbone(convnext_atto)`` with a timm ``.pth``.
Checks: the runner-style ``init_weights`` loads the checkpoint through the
wrapper, two optimiser steps change the adapters and heads and leave the
frozen backbone weights as loaded.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

timm = pytest.importorskip('timm')
SIZE = 64


def _tasks(channels):
    head = dict(type='MultiScaleFusionHead', in_channels=channels,
                channels=(4, 4, 4, 4), expansion=1)
    return dict(
        semseg=dict(head=dict(head, out_channels=3),
                    loss=dict(type='PixelCrossEntropyLoss'), loss_weight=1.),
        normals=dict(head=dict(head, out_channels=3),
                     loss=dict(type='NormalsL1Loss'), loss_weight=10.))


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(2):
        sample = MultiTaskDataSample(metainfo=dict(
            img_path=f'img_{i}.jpg', img_shape=(SIZE, SIZE),
            ori_shape=(SIZE, SIZE)))
        sample.gt_maps = PixelData(
            semseg=torch.randint(0, 3, (1, SIZE, SIZE), generator=gen),
            normals=F.normalize(torch.randn(3, SIZE, SIZE, generator=gen),
                                dim=0))
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8,
                            generator=gen) for _ in samples]
    return dict(inputs=inputs, data_samples=samples)


def _train_two_steps(backbone_cfg, channels, reference_state, key_map):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                               mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                               size_divisor=32),
        backbone=backbone_cfg, tasks=_tasks(channels)))
    model.init_weights()
    backbone = model.backbone.module
    state = backbone.state_dict()
    for ours, theirs in key_map.items():
        assert torch.equal(state[ours], reference_state[theirs]), ours
    frozen = {k: v.detach().clone() for k, v in backbone.named_parameters()
              if not v.requires_grad}
    assert frozen
    adapters = {k: v.detach().clone()
                for k, v in model.backbone.adapters.named_parameters()}
    wrapper = OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2))
    model.train()
    for step in range(2):
        log_vars = model.train_step(_batch(step), wrapper)
        assert math.isfinite(log_vars['loss'].item())
    for name, value in backbone.named_parameters():
        if name in frozen:
            assert torch.equal(value, frozen[name]), name
    changed = [k for k, v in model.backbone.adapters.named_parameters()
               if not torch.equal(v, adapters[k])]
    assert changed
    return model


def _timm_swin_checkpoint(tmp_path):
    """A tiny timm Swin (random) saved as ``.safetensors``: (model, path).
    """
    from safetensors.torch import save_file
    torch.manual_seed(0)
    source = timm.create_model(
        'swin_tiny_patch4_window7_224', pretrained=False, embed_dim=16,
        depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2), window_size=2,
        img_size=SIZE)
    path = str(tmp_path / 'swin_timm.safetensors')
    save_file({k: v.contiguous() for k, v in source.state_dict().items()},
              path)
    return source, path


def test_vmt_adapter_on_converted_swin(tmp_path):
    source, path = _timm_swin_checkpoint(tmp_path)
    backbone = dict(
        type='VMTAdapter', bottleneck=4,
        module=dict(type='SwinTransformerMTL', embed_dims=16,
                    depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2),
                    window_size=2, drop_path_rate=0., pretrained=path))
    model = _train_two_steps(
        backbone, [16, 32, 64, 128], source.state_dict(), {
            'stages.1.blocks.0.attn.w_msa.qkv.weight':
            'layers.1.blocks.0.attn.qkv.weight',
            'stages.3.blocks.1.ffn.layers.1.weight':
            'layers.3.blocks.1.mlp.fc2.weight',
            'norm3.weight': 'norm.weight',
        })
    assert isinstance(model.backbone(torch.randn(1, 3, SIZE, SIZE)), dict)


def test_vmt_adapter_on_timm_convnext(tmp_path):
    torch.manual_seed(0)
    # convnext_atto's default MLP is 1x1 convolutions on NCHW maps: VMT
    # wraps its channels-last layers in ChannelsFirst there.
    source = timm.create_model('convnext_atto', pretrained=False)
    assert isinstance(source.stages[0].blocks[0].mlp.fc1, torch.nn.Conv2d)
    path = str(tmp_path / 'convnext_atto.pth')
    torch.save(source.state_dict(), path)
    last_blocks = {0: 1, 1: 1, 2: 5, 3: 1}
    backbone = dict(
        type='VMTAdapter', bottleneck=4,
        targets=r'model\.stages_\d+\.blocks\.\d+\.mlp',
        stage_points={rf'model\.stages_{s}\.blocks\.{b}\.mlp': s
                      for s, b in last_blocks.items()},
        module=dict(type='TimmMultiScaleBackbone', model_name='convnext_atto',
                    checkpoint=path))
    _train_two_steps(
        backbone, [40, 80, 160, 320], source.state_dict(), {
            'model.stem_0.weight': 'stem.0.weight',
            'model.stages_2.blocks.5.mlp.fc1.weight':
            'stages.2.blocks.5.mlp.fc1.weight',
        })


@pytest.mark.parametrize('method', ['MTLoRA', 'TADFormer'])
def test_lora_methods_on_converted_swin(method, tmp_path):
    """Replaced sites (LoRA linears, prompted attention) keep the keys the
    checkpoint conversion loads into: the weights arrive through them."""
    source, path = _timm_swin_checkpoint(tmp_path)
    backbone = dict(
        type=method, rank=2,
        module=dict(type='SwinTransformerMTL', embed_dims=16,
                    depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2),
                    window_size=2, drop_path_rate=0., pretrained=path,
                    out_after_downsample=True))
    model = _train_two_steps(
        backbone, [32, 64, 128, 128], source.state_dict(), {
            'stages.1.blocks.0.attn.w_msa.qkv.weight':
            'layers.1.blocks.0.attn.qkv.weight',
            'stages.2.blocks.1.attn.w_msa.relative_position_bias_table':
            'layers.2.blocks.1.attn.relative_position_bias_table',
            'stages.3.blocks.1.ffn.layers.1.weight':
            'layers.3.blocks.1.mlp.fc2.weight',
        })
    feats = model.backbone(torch.randn(1, 3, SIZE, SIZE))
    assert [f.shape[1] for f in feats['semseg']] == [32, 64, 128, 128]
