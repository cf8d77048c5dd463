"""Unit tests of the Swin checkpoint conversion on tiny hand-made tensors."""
import pytest
import torch

from mmmtl.models.backbones import (convert_swin_state_dict,
                                    detect_swin_layout, load_state_dict_file,
                                    resize_rel_pos_bias_table)
from mmmtl.models.backbones.swin_convert import reorder_merging_channels
from mmmtl.registry import MODELS

TINY = dict(type='SwinTransformerMTL', embed_dims=8, depths=[2, 2],
            num_heads=[1, 2], window_size=2, strides=(4, 2),
            out_indices=(0, 1), drop_path_rate=0.)


def test_detect_layouts():
    block = 'layers.0.blocks.0.attn.qkv.weight'
    assert detect_swin_layout({block: 0,
                               'layers.0.downsample.norm.weight': 0}) == \
        'official'
    assert detect_swin_layout({block: 0,
                               'layers.1.downsample.norm.weight': 0}) == \
        'timm'
    assert detect_swin_layout(
        {'stages.0.blocks.0.attn.w_msa.qkv.weight': 0}) == 'mmseg'
    with pytest.raises(ValueError, match='not a Swin'):
        detect_swin_layout({'conv1.weight': 0})


def test_merging_reorder_matches_unfold_order():
    # Official: 4 blocks of C channels, neighbours (0,0),(1,0),(0,1),(1,1)
    # as (row, col). Label every input channel by (row, col, c).
    channels = 3
    official = [(r, c, ch) for (r, c) in [(0, 0), (1, 0), (0, 1), (1, 1)]
                for ch in range(channels)]
    codes = torch.tensor([100 * r + 10 * c + ch for r, c, ch in official],
                         dtype=torch.float32)
    reordered = reorder_merging_channels(codes)
    # nn.Unfold(2, stride=2): index = ch * 4 + row * 2 + col.
    expected = torch.tensor([
        100 * r + 10 * c + ch for ch in range(channels) for r in range(2)
        for c in range(2)
    ], dtype=torch.float32)
    assert torch.equal(reordered, expected)
    weight = codes.repeat(5, 1)
    assert torch.equal(reorder_merging_channels(weight), expected.repeat(5, 1))


def test_bias_table_resize():
    table = torch.randn(13 * 13, 3)
    assert resize_rel_pos_bias_table(table, 7) is table
    constant = torch.full((13 * 13, 3), 0.25)
    resized = resize_rel_pos_bias_table(constant, 12)
    assert resized.shape == (23 * 23, 3)
    torch.testing.assert_close(resized, torch.full((23 * 23, 3), 0.25))
    # A per-head ramp along rows stays a monotone ramp with the same ends
    # (approximately: bicubic with align_corners=False).
    ramp = torch.arange(13.).repeat_interleave(13)[:, None].repeat(1, 2)
    up = resize_rel_pos_bias_table(ramp, 12).reshape(23, 23, 2)
    rows = up[:, 0, 0]
    assert bool((rows[1:] >= rows[:-1] - 1e-5).all())
    assert abs(rows[0].item()) < 0.2 and abs(rows[-1].item() - 12) < 0.2
    with pytest.raises(ValueError, match='not square'):
        resize_rel_pos_bias_table(torch.zeros(10, 2), 3)


def test_convert_drops_buffers_and_head_and_maps_final_norm():
    state = {
        'patch_embed.proj.weight': torch.zeros(1),
        'layers.0.blocks.0.attn.qkv.weight': torch.zeros(1),
        'layers.0.blocks.0.attn.relative_position_index': torch.zeros(1),
        'layers.0.blocks.1.attn_mask': torch.zeros(1),
        'layers.0.blocks.0.mlp.fc1.bias': torch.zeros(1),
        'layers.0.blocks.0.mlp.fc2.bias': torch.zeros(1),
        'layers.1.blocks.0.norm1.weight': torch.zeros(1),
        'norm.weight': torch.zeros(1),
        'head.weight': torch.zeros(1),
    }
    converted, report = convert_swin_state_dict(
        {f'module.{k}': v for k, v in state.items()})
    assert report.layout == 'official'
    assert set(converted) == {
        'patch_embed.projection.weight',
        'stages.0.blocks.0.attn.w_msa.qkv.weight',
        'stages.0.blocks.0.ffn.layers.0.0.bias',
        'stages.0.blocks.0.ffn.layers.1.bias',
        'stages.1.blocks.0.norm1.weight', 'norm1.weight'
    }
    assert sorted(report.dropped_keys) == sorted([
        'layers.0.blocks.0.attn.relative_position_index',
        'layers.0.blocks.1.attn_mask', 'head.weight'
    ])


def test_load_state_dict_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_state_dict_file(str(tmp_path / 'missing.pth'))
    path = tmp_path / 'list.pth'
    torch.save([torch.zeros(1)], path)
    with pytest.raises(TypeError, match='list.pth'):
        load_state_dict_file(str(path))


def test_mmseg_layout_checkpoint_with_backbone_prefix(tmp_path):
    source = MODELS.build(TINY)
    source.init_weights()
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['decode_head.conv_seg.weight'] = torch.zeros(2, 8, 1, 1)
    path = tmp_path / 'mmseg_model.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), path)
    model = MODELS.build(dict(TINY, pretrained=str(path)))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_architecture_mismatch_raises_with_key_names(tmp_path):
    bigger = MODELS.build(dict(TINY, embed_dims=16, num_heads=[2, 4]))
    path = tmp_path / 'swin_bigger.pth'
    torch.save(bigger.state_dict(), path)
    model = MODELS.build(dict(TINY, pretrained=str(path)))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    message = str(err.value)
    assert 'swin_bigger.pth' in message and 'shape mismatches' in message
    assert 'patch_embed.projection.weight: checkpoint (16, 3, 4, 4) vs ' \
           'model (8, 3, 4, 4)' in message

    deeper = MODELS.build(dict(TINY, depths=[2, 4]))
    path = tmp_path / 'swin_deeper.pth'
    torch.save(deeper.state_dict(), path)
    model = MODELS.build(dict(TINY, pretrained=str(path)))
    with pytest.raises(ValueError, match=r'not in model \(\d+\): '
                       r'stages\.1\.blocks\.2\.'):
        model.init_weights()

    model = MODELS.build(dict(TINY, depths=[2, 6], pretrained=str(path)))
    with pytest.raises(ValueError,
                       match=r'missing in checkpoint .*stages\.1\.blocks\.4'):
        model.init_weights()


def test_init_cfg_pretrained_is_converted(tmp_path):
    source = MODELS.build(TINY)
    source.init_weights()
    path = tmp_path / 'tiny.pth'
    torch.save(source.state_dict(), path)
    model = MODELS.build(
        dict(TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    assert model.pretrained_path == str(path)
    model.init_weights()
    assert torch.equal(model.patch_embed.projection.weight,
                       source.patch_embed.projection.weight)
    with pytest.raises(ValueError, match='not both'):
        MODELS.build(dict(TINY, pretrained=str(path),
                          init_cfg=dict(type='Pretrained',
                                        checkpoint=str(path))))


def test_out_channels_and_padding_shapes():
    model = MODELS.build(TINY).eval()
    out = model(torch.randn(2, 3, 30, 26))
    # 30x26 -> patch embed pads to 32x28 -> 8x7 -> merging pads -> 4x4.
    assert [tuple(o.shape) for o in out] == [(2, 8, 8, 7), (2, 16, 4, 4)]
    assert model.out_channels == [8, 16]
    post = MODELS.build(dict(TINY, out_after_downsample=True)).eval()
    out = post(torch.randn(2, 3, 30, 26))
    assert [tuple(o.shape) for o in out] == [(2, 16, 4, 4), (2, 16, 4, 4)]
    assert post.out_channels == [16, 16]
    assert not list(post.norm0.parameters())
    out[0].sum().backward()
