"""Task-map rendering: palettes, ignore colour, normals RGB, heat maps."""
import numpy as np
import pytest
import torch

from mmmtl.visualization import colorize_task_map, make_grid


def test_label_map_uses_palette_and_ignore_white():
    labels = np.array([[0, 1], [2, 255]], np.uint8)
    palette = [[0, 0, 0], [10, 20, 30], [40, 50, 60]]
    rgb = colorize_task_map('semseg', labels, 3, palette)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    np.testing.assert_array_equal(rgb[0, 1], [10, 20, 30])
    np.testing.assert_array_equal(rgb[1, 0], [40, 50, 60])
    np.testing.assert_array_equal(rgb[1, 1], [255, 255, 255])
    packed = torch.from_numpy(labels.astype(np.int64))[None]
    np.testing.assert_array_equal(
        colorize_task_map('semseg', packed, 3, palette), rgb)


def test_normals_rgb_from_either_layout():
    normals = np.zeros((2, 3, 3), np.float32)
    normals[0, 0] = (1, 0, 0)
    normals[1, 2] = (0, -1, 0)
    rgb = colorize_task_map('normals', normals)
    np.testing.assert_array_equal(rgb[0, 0], [255, 127, 127])
    np.testing.assert_array_equal(rgb[1, 2], [127, 0, 127])
    np.testing.assert_array_equal(rgb[0, 1], [0, 0, 0])
    chw = torch.from_numpy(normals.transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(colorize_task_map('normals', chw), rgb)
    with pytest.raises(ValueError, match='normals'):
        colorize_task_map('normals', np.zeros((2, 2)))


def test_heat_maps_mark_invalid_black():
    depth = np.array([[0.0, 1.0], [2.0, 4.0]], np.float32)
    rgb = colorize_task_map('depth', depth)
    np.testing.assert_array_equal(rgb[0, 0], [0, 0, 0])
    assert not np.array_equal(rgb[1, 1], rgb[0, 1])
    sal = np.array([[0, 1], [255, 1]], np.uint8)
    rgb = colorize_task_map('saliency', sal)
    np.testing.assert_array_equal(rgb[1, 0], [255, 255, 255])
    np.testing.assert_array_equal(rgb[0, 1], rgb[1, 1])


def test_make_grid_layout():
    a = np.full((4, 5, 3), 10, np.uint8)
    b = np.full((3, 2, 3), 20, np.uint8)
    grid = make_grid([a, b, a], ncols=2, pad=1)
    assert grid.shape == (2 * (4 + 1) + 1, 2 * (5 + 1) + 1, 3)
    np.testing.assert_array_equal(grid[1:5, 1:6], a)
    np.testing.assert_array_equal(grid[1:4, 7:9], b)
    titled = make_grid([a], titles=['x'])
    assert titled.shape[0] > a.shape[0] + 8
