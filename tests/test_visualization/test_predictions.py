"""render_prediction: image + per-task prediction row + ground-truth row."""
import numpy as np
import torch
from mmengine.structures import PixelData

from mmmtl.structures import MultiTaskDataSample
from mmmtl.visualization import class_palette, render_prediction


def _sample(with_gt: bool) -> MultiTaskDataSample:
    sample = MultiTaskDataSample()
    labels = torch.zeros(1, 8, 10, dtype=torch.long)
    labels[0, :, 5:] = 2
    sample.pred_maps = PixelData(semseg=labels,
                                 saliency=torch.full((1, 8, 10), 0.75))
    if with_gt:
        sample.gt_maps = PixelData(semseg=labels.clone(),
                                   saliency=torch.ones(1, 8, 10).long())
    return sample


def test_layout_and_colours():
    image = np.zeros((16, 20, 3), np.uint8)  # resized to the 8x10 preds
    grid = render_prediction(image, _sample(True), ('semseg', 'saliency'),
                             num_classes=dict(semseg=3))
    pad, title = 4, 14
    assert grid.shape == (2 * (8 + title + pad) + pad, 3 * (10 + pad) + pad,
                          3)
    y, x = pad + title, pad + (10 + pad)  # top-left of 'semseg pred'
    palette = class_palette(3)
    assert np.array_equal(grid[y, x], palette[0])
    assert np.array_equal(grid[y, x + 9], palette[2])
    gt_y = y + 8 + pad + title
    assert np.array_equal(grid[gt_y, x + 9], palette[2])


def test_without_ground_truth_one_row():
    grid = render_prediction(np.zeros((8, 10, 3), np.uint8), _sample(False),
                             ('semseg', ))
    assert grid.shape[0] == 8 + 14 + 2 * 4
