"""ChannelsFirst runs a channels-last adapter on (B, C, H, W) maps."""
import torch

from mmmtl.models.adapters import ChannelsFirst, VMTLayer


def test_channels_first_matches_channels_last_layer():
    torch.manual_seed(0)
    layer = VMTLayer(8, 4, ('a', 'b'))
    torch.nn.init.normal_(layer.up.weight)
    torch.nn.init.normal_(layer.gamma)
    x = torch.randn(2, 8, 3, 5)
    wrapped = ChannelsFirst(layer)
    expected = layer(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    assert torch.allclose(wrapped(x), expected)
    shared, residuals = wrapped.forward_with_tasks(x)
    ref_shared, ref_res = layer.forward_with_tasks(x.permute(0, 2, 3, 1))
    assert shared.shape == (2, 8, 3, 5)
    assert torch.allclose(shared, ref_shared.permute(0, 3, 1, 2))
    for task in ('a', 'b'):
        assert residuals[task].shape == (2, 8, 3, 5)
        assert torch.allclose(residuals[task],
                              ref_res[task].permute(0, 3, 1, 2))
    assert not torch.allclose(residuals['a'], residuals['b'])
    wrapped.reset_parameters()
    assert torch.count_nonzero(layer.up.weight) == 0
