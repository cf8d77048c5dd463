"""Render task maps (ground truth or predictions) as RGB images."""
from typing import List, Optional, Sequence

import cv2
import numpy as np

from mmmtl.structures import get_task

IGNORE_COLOUR = (255, 255, 255)


def class_palette(num_classes: int, seed: int = 7) -> np.ndarray:
    """Deterministic distinct-ish colours, uint8 (num_classes, 3); class 0
    is black."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(40, 256, (max(num_classes, 1), 3))
    palette[0] = 0
    return palette.astype(np.uint8)


def _to_numpy(array) -> np.ndarray:
    if hasattr(array, 'detach'):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _as_hw(array: np.ndarray) -> np.ndarray:
    """(1, H, W) or (H, W, 1) -> (H, W)."""
    if array.ndim == 3 and array.shape[0] == 1:
        return array[0]
    if array.ndim == 3 and array.shape[2] == 1:
        return array[..., 0]
    return array


def heat_map(values: np.ndarray, valid: Optional[np.ndarray] = None,
             vmax: Optional[float] = None) -> np.ndarray:
    """(H, W) values -> uint8 (H, W, 3) RGB (jet), invalid pixels black."""
    values = values.astype(np.float32)
    valid = np.ones(values.shape, bool) if valid is None else valid
    if vmax is None:
        vmax = float(values[valid].max()) if valid.any() else 1.0
    scaled = np.clip(values / max(vmax, 1e-6), 0, 1)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                            cv2.COLORMAP_JET)[..., ::-1].copy()
    rgb[~valid] = 0
    return rgb


def colorize_task_map(task: str, array, num_classes: Optional[int] = None,
                      palette: Optional[Sequence] = None) -> np.ndarray:
    """Render one task's map as an RGB image.

    Args:
        task: task name; its kind picks the rendering: label -> palette
            (255 white), binary -> heat map of 0/1 or probabilities (255
            white), normal -> (n + 1) / 2 (zero vectors black),
            scalar -> heat map scaled to its maximum (0 black).
        array: numpy array or tensor, (H, W) or (1, H, W); normals as
            numpy (H, W, 3) (the in-memory format) or tensor (3, H, W)
            (the packed format).
        num_classes: classes of a label task (default: max label + 1).
        palette: colours (num_classes, 3) of a label task.

    Returns:
        uint8 (H, W, 3) RGB.
    """
    kind = get_task(task).kind
    channels_first = hasattr(array, 'detach')
    array = _to_numpy(array)
    if kind == 'normal':
        if array.ndim == 3 and array.shape[0] == 3 and (
                channels_first or array.shape[2] != 3):
            array = array.transpose(1, 2, 0)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f'task {task!r}: expected (H, W, 3) or '
                             f'(3, H, W) normals, got {array.shape}')
        rgb = np.clip((array + 1) * 127.5, 0, 255).astype(np.uint8)
        rgb[~np.any(array != 0, axis=2)] = 0
        return rgb
    array = _as_hw(array)
    if array.ndim != 2:
        raise ValueError(f'task {task!r}: expected an (H, W) map, got '
                         f'{array.shape}')
    if kind == 'scalar':
        return heat_map(array, valid=array > 0)
    ignored = array == 255
    if kind == 'binary':
        rgb = heat_map(np.where(ignored, 0, array), vmax=1.0)
    else:
        labels = array.astype(np.int64)
        if num_classes is None:
            valid = labels[~ignored]
            num_classes = int(valid.max()) + 1 if valid.size else 1
        colours = (np.asarray(palette, np.uint8) if palette is not None else
                   class_palette(num_classes))
        rgb = colours[np.clip(labels, 0, len(colours) - 1)]
    rgb[ignored] = IGNORE_COLOUR
    return rgb


def make_grid(images: List[np.ndarray], titles: Optional[List[str]] = None,
              ncols: Optional[int] = None, pad: int = 4) -> np.ndarray:
    """Tile RGB images (each (H_i, W_i, 3) uint8) into one uint8 image.

    Cells have the size of the largest image; titles are drawn on top.
    """
    if not images:
        raise ValueError('make_grid needs at least one image')
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    cell_h = max(i.shape[0] for i in images)
    cell_w = max(i.shape[1] for i in images)
    title_h = 14 if titles else 0
    grid = np.full((nrows * (cell_h + title_h + pad) + pad,
                    ncols * (cell_w + pad) + pad, 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        y = pad + r * (cell_h + title_h + pad)
        x = pad + c * (cell_w + pad)
        if titles:
            cv2.putText(grid, titles[k], (x, y + 10), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35, (0, 0, 0), 1, cv2.LINE_AA)
        grid[y + title_h:y + title_h + img.shape[0],
             x:x + img.shape[1]] = img
    return grid
