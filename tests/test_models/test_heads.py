"""Dense task heads: shapes, parameter counts, mmseg decode heads."""
import pytest
import torch

from mmmtl.models.heads import ConvTaskHead, MultiScaleFusionHead
from mmmtl.registry import MODELS

SWIN_T = [96, 192, 384, 768]
HRNET_W18 = [18, 36, 72, 144]


def _feats(channels, size=16, batch=2):
    return [torch.randn(batch, c, size // 2**i, size // 2**i)
            for i, c in enumerate(channels)]


def _fusion_head_params(in_channels, out_channels, expansion=4):
    """Hand count: bias-free 1x1 reductions, fusion conv + BN, classifier."""
    reduce = sum(c_in * c_out for c_in, c_out in zip(in_channels, HRNET_W18))
    fused = sum(HRNET_W18)
    hidden = fused * expansion
    fuse = fused * hidden + hidden + 2 * hidden
    cls = hidden * out_channels + out_channels
    return reduce + fuse + cls


def test_fusion_head_output_shape_and_grad():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='MultiScaleFusionHead',
                             in_channels=[8, 16, 32, 64], out_channels=3))
    feats = _feats([8, 16, 32, 64])
    out = head(feats)
    assert out.shape == (2, 3, 16, 16)
    out.sum().backward()
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize('out_channels', [21, 7, 1, 3])
def test_fusion_head_parameter_count_swin_t(out_channels):
    head = MultiScaleFusionHead(SWIN_T, out_channels)
    count = sum(p.numel() for p in head.parameters())
    assert count == _fusion_head_params(SWIN_T, out_channels)
    assert count == {21: 464421, 7: 449287, 1: 442801, 3: 444963}[
        out_channels]


def test_fusion_head_matches_reference_count():
    """References' stage channels (after patch merging): 0.48-0.50 M."""
    ref_stages = [192, 384, 768, 768]
    assert sum(p.numel() for p in MultiScaleFusionHead(
        ref_stages, 21).parameters()) == 500709
    assert sum(p.numel() for p in MultiScaleFusionHead(
        ref_stages, 1).parameters()) == 479089


def test_fusion_head_in_index_and_norm_after_reduce():
    head = MultiScaleFusionHead([16, 32], 2, channels=(4, 8), in_index=(1, 2),
                                expansion=1, reduce_norm_cfg=dict(type='BN'))
    out = head(_feats([8, 16, 32, 64]))
    assert out.shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match='channels'):
        head(_feats([8, 16, 16, 64]))


def test_conv_task_head():
    head = ConvTaskHead(in_channels=16, out_channels=5, channels=4,
                        in_index=1)
    assert head(_feats([8, 16, 32])).shape == (2, 5, 8, 8)
    with pytest.raises(IndexError, match='in_index'):
        head(_feats([8]))


def test_mmseg_fcn_head_as_label_head():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='FCNHead', in_channels=64, in_index=3,
                             channels=8, num_convs=1, num_classes=21,
                             concat_input=False))
    out = head.forward(_feats([8, 16, 32, 64]))
    assert out.shape == (2, 21, 2, 2)


CONSTANT_INIT = dict(type='Constant', layer='Conv2d', val=0.5, bias=0.)
HEADS = [
    dict(type='MultiScaleFusionHead', in_channels=[8, 16], out_channels=3,
         channels=[4, 4], expansion=2),
    dict(type='MultiScaleFusionHead', in_channels=[8, 16], out_channels=3,
         channels=[4, 4], reduce_norm_cfg=dict(type='BN')),
    dict(type='ConvTaskHead', in_channels=8, out_channels=1, channels=4),
]


@pytest.mark.parametrize('head_cfg', HEADS,
                         ids=['fusion', 'fusion_reduce_norm', 'conv'])
def test_head_init_cfg_reaches_every_matching_layer(head_cfg):
    """ConvModule's own init_weights (kaiming) used to overwrite the head's
    init_cfg on its conv (fuse.conv), after mmengine applied it."""
    head = MODELS.build(dict(head_cfg, init_cfg=CONSTANT_INIT))
    head.init_weights()
    convs = {name: m for name, m in head.named_modules()
             if isinstance(m, torch.nn.Conv2d)}
    assert len(convs) >= 2
    for name, conv in convs.items():
        assert torch.all(conv.weight == 0.5), name
        assert conv.bias is None or torch.all(conv.bias == 0), name
    # the norms keep ConvModule's initialisation
    for name, m in head.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0), name


def test_head_without_init_cfg_keeps_convmodule_init():
    torch.manual_seed(0)
    head = MODELS.build(HEADS[0])
    head.init_weights()
    assert not torch.all(head.fuse.conv.weight == 0.5)
    assert head.fuse.conv.weight.std() > 0  # kaiming, not a constant
