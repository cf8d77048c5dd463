"""tools/train.py stops at the first validation with one clear line when a
validated task's ground truth is entirely ignored (never NaN, never a
score)."""
from pathlib import Path

import numpy as np
import pytest

from mmmtl.datasets.synthetic import generate_synthetic_dataset
from repo_files import REPO, load_module

TINY = """
_base_ = ['{base}']
head = dict(in_channels=[16, 32, 64, 128], channels=[4, 4, 4, 4])
model = dict(
    backbone=dict(embed_dims=16, depths=[1, 1, 1, 1],
                  num_heads=[1, 1, 1, 1], window_size=2),
    tasks={{t: dict(head=head) for t in
           ('semseg', 'human_parts', 'saliency', 'normals', 'depth')}})
data = dict(data_root='{root}', num_train=2, num_val=2, size=32)
train_dataloader = dict(batch_size=2, dataset=data)
val_dataloader = dict(batch_size=2, dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1, val_interval=1)
"""


def test_validation_with_all_depth_ignored_exits_2(tmp_path, capsys):
    root = Path(generate_synthetic_dataset(str(tmp_path / 'syn'),
                                           num_train=2, num_val=2, size=32))
    for path in (root / 'depth').glob('*.npy'):
        np.save(path, np.zeros((32, 32), np.float32))
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(TINY.format(
        base=REPO / 'configs/full_ft/full_ft_mtl_swin_t_synthetic.py',
        root=root))
    with pytest.raises(SystemExit) as exit_info:
        load_module('tools/train.py').main(
            [str(cfg), '--work-dir', str(tmp_path / 'work')])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: task 'depth': no valid ground-truth pixel in the 2 evaluated "
        'image(s) (every gt depth is 0, negative or not finite)')
    assert 'Traceback' not in err
