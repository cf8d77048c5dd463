"""The upstream workarounds of mmmtl.compat, each checked on real behaviour."""
import pickle
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmtl.compat import mmcv_ops
from mmmtl.compat.checkpoint import (checkpoint_loading,
                                     load_local_checkpoint)


def test_mmseg_models_import_and_swin_builds():
    import mmseg.models  # noqa: F401
    from mmseg.models.backbones import SwinTransformer
    model = SwinTransformer(embed_dims=24, depths=(1, 1, 1, 1),
                            num_heads=(1, 1, 1, 1), window_size=4)
    outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [24, 48, 96, 192]
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]


@pytest.mark.skipif(mmcv_ops.has_compiled_ops(),
                    reason='full mmcv installed: no stand-in needed')
def test_ops_stub_point_sample_matches_grid_sample():
    import mmcv.ops
    assert getattr(mmcv.ops, '__mmmtl_stub__', False)
    feat = torch.arange(16.).view(1, 1, 4, 4)
    # relative coords of pixel centres (col 1, row 2) and (col 3, row 0)
    points = torch.tensor([[[1.5 / 4, 2.5 / 4], [3.5 / 4, 0.5 / 4]]])
    out = mmcv.ops.point_sample(feat, points, align_corners=False)
    assert out.shape == (1, 1, 2)
    assert torch.allclose(out[0, 0], torch.tensor([9.0, 3.0]))
    grid = torch.rand(1, 3, 5, 2)
    expected = F.grid_sample(feat, 2 * grid - 1, align_corners=False)
    assert torch.allclose(mmcv.ops.point_sample(feat, grid), expected)


@pytest.mark.skipif(mmcv_ops.has_compiled_ops(),
                    reason='full mmcv installed: no stand-in needed')
def test_ops_stub_placeholders_and_dunders():
    import mmcv.ops
    from mmcv.ops import sigmoid_focal_loss  # the unguarded mmseg import
    with pytest.raises(RuntimeError, match='full mmcv build'):
        sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))
    with pytest.raises(AttributeError):
        mmcv.ops.__wrapped__
    assert pickle.loads(pickle.dumps(mmcv_ops.point_sample)) is \
        mmcv_ops.point_sample
    assert mmcv_ops.install_mmcv_ops_stub() is True
    assert sys.modules['mmcv.ops'] is mmcv.ops


def test_checkpoint_scope_reads_non_tensor_state_without_global_patch(
        tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    state = dict(meta=dict(hist=np.arange(3), note={1, 2}),
                 state_dict=dict(w=torch.ones(2)))
    torch.save(state, path)
    # import mmmtl patches nothing: mmengine's own loader stays weights-only
    with pytest.raises(pickle.UnpicklingError, match='numpy'):
        _load_checkpoint(str(path), map_location='cpu')
    with checkpoint_loading():
        loaded = _load_checkpoint(str(path), map_location='cpu')
    assert np.array_equal(loaded['meta']['hist'], np.arange(3))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))
