"""TimmMultiScaleBackbone: multi-scale NCHW lists from timm models."""
import pytest
import torch

timm = pytest.importorskip('timm')

from mmmtl.registry import MODELS  # noqa: E402


def _build(**kwargs):
    return MODELS.build(dict(type='TimmMultiScaleBackbone', **kwargs))


def test_convnext_atto_stages():
    model = _build(model_name='convnext_atto')
    assert model.out_channels == [40, 80, 160, 320]
    assert model.out_strides == [4, 8, 16, 32]
    out = model(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in out] == [(2, 40, 16, 24), (2, 80, 8, 12),
                                             (2, 160, 4, 6), (2, 320, 2, 3)]
    sum(o.mean() for o in out).backward()
    names = [n for n, _ in model.named_modules()]
    assert 'model.stages_3.blocks.1' in names


def test_swin_features_are_nchw():
    model = _build(model_name='swin_tiny_patch4_window7_224',
                   out_indices=(1, 2, 3),
                   model_kwargs=dict(img_size=64, window_size=2,
                                     embed_dim=24, num_heads=(1, 2, 4, 8)))
    model.eval()
    assert model.channels_last
    x = torch.randn(1, 3, 64, 64)
    out = model(x)
    assert [tuple(o.shape) for o in out] == [(1, 48, 8, 8), (1, 96, 4, 4),
                                             (1, 192, 2, 2)]
    # Same values as timm's own NHWC features, permuted.
    raw = model.model(x)
    torch.testing.assert_close(out[2], raw[2].permute(0, 3, 1, 2))
    assert any(n.startswith('model.layers_3.blocks.1.mlp')
               for n, _ in model.named_modules())


@pytest.mark.parametrize('out_indices', [None, (2, 5, 8, 11)])
def test_vit_simple_feature_pyramid(out_indices):
    model = _build(model_name='vit_tiny_patch16_224', out_indices=out_indices,
                   model_kwargs=dict(img_size=64))
    model.eval()
    assert model.out_channels == [48, 96, 192, 192]
    assert model.out_strides == [4, 8, 16, 32]
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert [tuple(o.shape) for o in out] == [(2, 48, 16, 16), (2, 96, 8, 8),
                                             (2, 192, 4, 4), (2, 192, 2, 2)]
    # x1 level is the block output itself; x0.5 its 2x2 max pool.
    last = model.model(x)[-1]
    torch.testing.assert_close(out[2 if out_indices is None else 3],
                               torch.nn.functional.max_pool2d(last, 2)
                               if out_indices else last)
    sum(o.mean() for o in out).backward()
    assert model.model.model.blocks[0].mlp.fc1.weight.grad is not None


def test_vit_rejects_two_indices():
    with pytest.raises(ValueError, match='1 or 4 blocks'):
        _build(model_name='vit_tiny_patch16_224', out_indices=(5, 11),
               model_kwargs=dict(img_size=32))


@pytest.mark.parametrize('fmt', ['pth', 'safetensors'])
def test_checkpoint_loads_and_matches_timm(tmp_path, fmt):
    torch.manual_seed(0)
    reference = timm.create_model('convnext_atto', pretrained=False).eval()
    path = str(tmp_path / f'convnext_atto.{fmt}')
    if fmt == 'pth':
        torch.save(dict(state_dict=reference.state_dict()), path)
    else:
        from safetensors.torch import save_file
        save_file(reference.state_dict(), path)
    model = _build(model_name='convnext_atto', checkpoint=path)
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference.forward_intermediates(x, intermediates_only=True)
        out = model(x)
    for o, e in zip(out, expected):
        torch.testing.assert_close(o, e)


def test_checkpoint_mismatch_names_keys(tmp_path):
    other = timm.create_model('convnext_femto', pretrained=False)
    path = str(tmp_path / 'convnext_femto.pth')
    torch.save(other.state_dict(), path)
    model = _build(model_name='convnext_atto', checkpoint=path)
    with pytest.raises(ValueError,
                       match=r'convnext_femto\.pth does not match timm model '
                       r'convnext_atto .*stem\.0\.weight: checkpoint '
                       r'\(48, 3, 4, 4\) vs model \(40, 3, 4, 4\)'):
        model.init_weights()
    state = {k: v for k, v in timm.create_model(
        'convnext_atto').state_dict().items() if 'stages.3.blocks.1.' not in k}
    path = str(tmp_path / 'partial.pth')
    torch.save(state, path)
    model = _build(model_name='convnext_atto', checkpoint=path)
    with pytest.raises(ValueError, match='missing stages.3.blocks.1.'):
        model.init_weights()


def test_official_dinov2_checkpoint_loads_with_resampled_positions(tmp_path):
    """An official DINOv2-with-registers file (cls position inside
    ``pos_embed``, ``register_tokens``, ``mask_token``; Oquab et al. 2023 /
    Darcet et al. 2024 release layout) pretrained on a 4x4 grid, loaded into
    a model on a 3x3 grid: tokens converted to timm's layout and the patch
    position embedding resampled."""
    from timm.layers import resample_abs_pos_embed
    kwargs = dict(depth=2, embed_dim=32, num_heads=1)
    torch.manual_seed(0)
    source = timm.create_model('vit_small_patch14_reg4_dinov2',
                               pretrained=False, img_size=56, **kwargs)
    timm_state = source.state_dict()
    cls_position = torch.randn(1, 1, 32)
    official = {k: v for k, v in timm_state.items()
                if k not in ('cls_token', 'reg_token', 'pos_embed')}
    official.update(
        cls_token=timm_state['cls_token'] - cls_position[:, 0],
        pos_embed=torch.cat([cls_position, timm_state['pos_embed']], 1),
        register_tokens=timm_state['reg_token'],
        mask_token=torch.zeros(1, 32))
    path = str(tmp_path / 'dinov2_vits14_reg4_pretrain.pth')
    torch.save(official, path)
    model = _build(model_name='vit_small_patch14_reg4_dinov2',
                   out_indices=(1, ), checkpoint=path,
                   model_kwargs=dict(img_size=42, dynamic_img_size=True,
                                     **kwargs))
    model.init_weights()
    vit = model.model.model
    torch.testing.assert_close(vit.cls_token, timm_state['cls_token'])
    torch.testing.assert_close(vit.reg_token, timm_state['reg_token'])
    expected = resample_abs_pos_embed(timm_state['pos_embed'], (3, 3),
                                      num_prefix_tokens=0)
    torch.testing.assert_close(vit.pos_embed, expected)
    torch.testing.assert_close(vit.blocks[1].mlp.fc2.weight,
                               timm_state['blocks.1.mlp.fc2.weight'])
    out = model(torch.randn(1, 3, 56, 56))  # other sizes: interpolated
    assert [tuple(o.shape[-2:]) for o in out] == [(16, 16), (8, 8), (4, 4),
                                                 (2, 2)]
