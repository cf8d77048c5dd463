"""Converted timm / official Swin-T weights reproduce timm's stage features.

No downloads: timm's ``swin_tiny_patch4_window7_224`` is built with random
weights (norms and biases perturbed so that they are not trivial), saved in
tmp_path, converted on load by ``SwinTransformerMTL`` and compared.

What is compared: timm's stage ``i`` output (``layers.i``: after its blocks,
before the next patch merging) equals mmseg's pre-merging output; mmseg then
applies ``norm{i}``. Stage 3 gets timm's final ``norm`` (the converter maps
``norm`` to ``norm3``); for stages 0-2, whose ``norm{i}`` does not exist in
the checkpoint, we give mmseg's ``norm{i}`` random parameters and apply that
same module to timm's features.

Input sizes: 222 (patch embedding pads to 224 -> 56/28/14/7) with timm's
``always_partition=True`` (the 7x7 last stage is shifted, as in mmseg) and
446 (pads to 448 -> 112/56/28/14) with timm's defaults. Both pad the image
bottom/right (timm's ``dynamic_img_pad``).
"""
import functools
import re

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

timm = pytest.importorskip('timm')
from timm.layers import PatchEmbed  # noqa: E402

from mmmtl.registry import MODELS  # noqa: E402

TOL = 1e-4


def _timm_swin_t(img_size: int, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(
        'swin_tiny_patch4_window7_224', pretrained=False, img_size=img_size,
        drop_path_rate=0.,
        embed_layer=functools.partial(PatchEmbed, dynamic_img_pad=True),
        **kwargs)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'norm' in name or name.endswith('bias'):
                param.add_(0.1 * torch.randn_like(param))
    return model.eval()


@pytest.fixture(scope='module')
def timm_222():
    """timm Swin-T for 222x222 inputs, shared by the tests of this module."""
    return _timm_swin_t(222, always_partition=True)


def _official_from_timm(state_dict: dict) -> dict:
    """Official layout: merging of stage i stored at the end of stage i."""
    out = {}
    for key, value in state_dict.items():
        match = re.match(r'layers\.(\d+)\.downsample\.(.*)', key)
        if match:
            key = f'layers.{int(match.group(1)) - 1}.downsample.' \
                  f'{match.group(2)}'
        out[key.replace('head.fc.', 'head.')] = value
    return out


def _mmseg_swin_t(path: str, **kwargs) -> torch.nn.Module:
    model = MODELS.build(
        dict(type='SwinTransformerMTL', embed_dims=96, depths=[2, 2, 6, 2],
             num_heads=[3, 6, 12, 24], window_size=7, drop_path_rate=0.,
             out_indices=(0, 1, 2, 3), pretrained=path, **kwargs))
    model.init_weights()
    torch.manual_seed(1)
    with torch.no_grad():
        for i in range(3):
            norm = getattr(model, f'norm{i}')
            for param in norm.parameters():
                param.copy_(torch.randn_like(param))
    return model.eval()


def _expected(timm_model, mmseg_model, x):
    feats = timm_model.forward_intermediates(x, norm=True,
                                             intermediates_only=True)
    expected = []
    for i, feat in enumerate(feats):
        if i < 3:
            norm = getattr(mmseg_model, f'norm{i}')
            feat = norm(feat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        expected.append(feat)
    return expected


@pytest.mark.parametrize('size,fmt', [(222, 'pth'), (446, 'safetensors')])
def test_timm_checkpoint_matches_timm_features(tmp_path, timm_222, size,
                                               fmt):
    timm_model = timm_222 if size == 222 else _timm_swin_t(size)
    path = str(tmp_path / f'swin_t_timm.{fmt}')
    state = {k: v.contiguous() for k, v in timm_model.state_dict().items()}
    if fmt == 'pth':
        torch.save(dict(state_dict=state), path)
    else:
        save_file(state, path)
    model = _mmseg_swin_t(path)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected = _expected(timm_model, model, x)
        out = model(x)
    padded = (size + 3) // 4
    for i, (o, e) in enumerate(zip(out, expected)):
        assert o.shape == e.shape
        assert o.shape[-1] == -(-padded // 2**i)
        assert (o - e).abs().max().item() < TOL, f'stage {i}'


def test_official_checkpoint_matches_timm_features(tmp_path, timm_222):
    timm_model = timm_222
    official = _official_from_timm(timm_model.state_dict())
    assert 'layers.0.downsample.reduction.weight' in official
    path = str(tmp_path / 'swin_tiny_patch4_window7_224.pth')
    torch.save(dict(model=official), path)
    model = _mmseg_swin_t(path)
    x = torch.randn(1, 3, 222, 222)
    with torch.no_grad():
        expected = _expected(timm_model, model, x)
        out = model(x)
    for o, e in zip(out, expected):
        assert (o - e).abs().max().item() < TOL


def test_out_after_downsample_matches_timm_merging(tmp_path, timm_222):
    timm_model = timm_222
    path = str(tmp_path / 'swin_t_timm.pth')
    torch.save(timm_model.state_dict(), path)
    model = MODELS.build(
        dict(type='SwinTransformerMTL', drop_path_rate=0., pretrained=path,
             out_after_downsample=True))
    model.init_weights()
    model.eval()
    assert model.out_channels == [192, 384, 768, 768]
    x = torch.randn(1, 3, 222, 222)
    with torch.no_grad():
        feats = timm_model.forward_intermediates(x, intermediates_only=True)
        expected = []
        for i, feat in enumerate(feats):
            if i < 3:
                merging = timm_model.layers[i + 1].downsample
                feat = merging(feat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            expected.append(feat)
        out = model(x)
    assert [tuple(o.shape[1:]) for o in out] == [(192, 28, 28),
                                                  (384, 14, 14),
                                                  (768, 7, 7), (768, 7, 7)]
    for o, e in zip(out, expected):
        assert (o - e).abs().max().item() < TOL


def test_window_size_change_interpolates_tables(tmp_path):
    torch.manual_seed(0)
    small = dict(embed_dim=16, depths=(2, 2), num_heads=(2, 4))
    timm_model = timm.create_model('swin_tiny_patch4_window7_224',
                                   pretrained=False, img_size=56, **small)
    path = str(tmp_path / 'swin_small_timm.pth')
    torch.save(timm_model.state_dict(), path)
    model = MODELS.build(
        dict(type='SwinTransformerMTL', embed_dims=16, depths=(2, 2),
             num_heads=(2, 4), strides=(4, 2), out_indices=(0, 1),
             drop_path_rate=0., window_size=12, pretrained=path))
    model.init_weights()
    table = model.stages[1].blocks[1].attn.w_msa.relative_position_bias_table
    assert table.shape == (23 * 23, 4)
    source = timm_model.layers[1].blocks[1].attn.relative_position_bias_table
    grid = source.detach().t().reshape(1, 4, 13, 13)
    expected = F.interpolate(grid, size=(23, 23), mode='bicubic',
                             align_corners=False).reshape(4, -1).t()
    torch.testing.assert_close(table.detach(), expected)
    out = model(torch.randn(1, 3, 96, 96))
    assert [tuple(o.shape[1:]) for o in out] == [(16, 24, 24), (32, 12, 12)]
