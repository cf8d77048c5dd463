"""tools/model_converters/swin2mmmtl.py on a timm Swin state dict."""
import pytest
import torch

timm = pytest.importorskip('timm')

from mmmtl.registry import MODELS  # noqa: E402
from repo_files import load_module  # noqa: E402


def _load_tool():
    return load_module('tools/model_converters/swin2mmmtl.py')


SMALL = dict(embed_dim=16, depths=(1, 1), num_heads=(1, 2), window_size=2,
             img_size=32)


@pytest.mark.parametrize('dst_name', ['converted.pth', 'converted.safetensors'])
def test_swin2mmmtl_cli_with_window_change(tmp_path, capsys, dst_name):
    torch.manual_seed(0)
    source = timm.create_model('swin_tiny_patch4_window7_224',
                               pretrained=False, **SMALL)
    src = tmp_path / 'swin_small_timm.pth'
    torch.save(dict(model=source.state_dict()), src)
    dst = tmp_path / dst_name
    _load_tool().main([str(src), str(dst), '--window-size', '3'])
    stdout = capsys.readouterr().out
    assert 'timm-layout' in stdout and 'resized_keys (2)' in stdout

    model = MODELS.build(
        dict(type='mmseg.SwinTransformer', embed_dims=16, depths=(1, 1),
             num_heads=(1, 2), window_size=3, strides=(4, 2),
             out_indices=(0, 1), init_cfg=dict(type='Pretrained',
                                               checkpoint=str(dst))))
    if dst_name.endswith('.safetensors'):
        from safetensors.torch import load_file
        converted = load_file(str(dst))
        model.load_state_dict(converted, strict=False)
    else:
        model.init_weights()
    table = model.stages[1].blocks[0].attn.w_msa.relative_position_bias_table
    assert table.shape == (25, 2)
    assert torch.equal(model.norm1.weight, source.norm.weight)
    # Reduction of the merging after stage 0, channel-reordered.
    reduction = source.layers[1].downsample.reduction.weight
    got = model.stages[0].downsample.reduction.weight
    assert torch.equal(got[:, 0::4], reduction[:, 0:16])
    assert torch.equal(got[:, 1::4], reduction[:, 32:48])
    assert torch.equal(got[:, 2::4], reduction[:, 16:32])
    assert torch.equal(got[:, 3::4], reduction[:, 48:64])


def test_swin2mmmtl_rejects_non_swin(tmp_path, capsys):
    src = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, src)
    with pytest.raises(SystemExit) as info:
        _load_tool().main([str(src), str(tmp_path / 'out.pth')])
    assert info.value.code == 2
    assert 'not a Swin Transformer state' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()
