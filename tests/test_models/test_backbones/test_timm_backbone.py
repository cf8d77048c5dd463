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
