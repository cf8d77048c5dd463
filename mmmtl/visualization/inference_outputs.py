"""Pictures (and raw arrays) of one image's predictions, as
``tools/infer.py`` writes them.

Per task ``<name>_<task>.png`` (:func:`colorize_task_map`: palette for
label tasks, heat map for saliency / edges probabilities and depth, RGB for
normals); optionally ``<name>_<task>_overlay.png`` for label and binary
tasks (the map blended on the image), ``<name>_grid.png`` (the image and
every task in one picture) and ``<name>_<task>.npy`` (the raw array).
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Union

import cv2
import numpy as np

from mmmtl.structures import get_task
from .task_maps import colorize_task_map, make_grid

#: task kinds drawn over the image by ``overlay``.
OVERLAY_KINDS = ('label', 'binary')
#: most cells in one row of the grid.
GRID_COLUMNS = 4


def blend(image_rgb: np.ndarray, colour_rgb: np.ndarray,
          weight: Union[float, np.ndarray]) -> np.ndarray:
    """``image * (1 - weight) + colour * weight`` as uint8 (H, W, 3).

    Args:
        image_rgb, colour_rgb: uint8 (H, W, 3).
        weight: a number or an (H, W) map in [0, 1].
    """
    weight = np.asarray(weight, np.float32)
    if weight.ndim == 2:
        weight = weight[..., None]
    mixed = image_rgb * (1 - weight) + colour_rgb * weight
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def overlay_task_map(task: str, image_rgb: np.ndarray, array: np.ndarray,
                     rendered: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A label or binary task's rendering blended on the image.

    Label maps are blended with weight ``alpha`` everywhere; binary maps
    (probabilities (H, W)) with ``alpha * p``, so that the image shows
    where the task is absent.

    Raises:
        ValueError: the task's kind is not in :data:`OVERLAY_KINDS`.
    """
    kind = get_task(task).kind
    if kind not in OVERLAY_KINDS:
        raise ValueError(f'task {task!r} ({kind}) has no overlay; only '
                         f'{" and ".join(OVERLAY_KINDS)} tasks have one')
    weight = alpha * np.clip(array, 0, 1) if kind == 'binary' else alpha
    return blend(image_rgb, rendered, weight)


def render_inference_outputs(name: str, image_rgb: np.ndarray,
                             maps: Mapping[str, np.ndarray],
                             num_classes: Optional[Mapping] = None,
                             palettes: Optional[Mapping] = None,
                             overlay: bool = False,
                             grid: bool = False) -> Dict[str, np.ndarray]:
    """The pictures of one image's predictions, by file name.

    Args:
        name: the image's name (file stem).
        image_rgb: the image, uint8 (H, W, 3) RGB.
        maps: ``{task: array}`` at (H, W) (normals (H, W, 3)).
        num_classes: ``{label task: K}``, so that colours do not depend on
            the classes one image happens to show.
        palettes: ``{label task: (K, 3) RGB}``.
        overlay: add ``<name>_<task>_overlay.png`` for label and binary
            tasks.
        grid: add ``<name>_grid.png``: the image and every task, titled.

    Returns:
        ``{file name: uint8 (h, w, 3) RGB}``; task pictures are (H, W).
    """
    num_classes, palettes = num_classes or {}, palettes or {}
    rendered = {task: colorize_task_map(task, array, num_classes.get(task),
                                        palettes.get(task))
                for task, array in maps.items()}
    pictures = {f'{name}_{task}.png': rgb for task, rgb in rendered.items()}
    if overlay:
        pictures.update({
            f'{name}_{task}_overlay.png': overlay_task_map(
                task, image_rgb, maps[task], rgb)
            for task, rgb in rendered.items()
            if get_task(task).kind in OVERLAY_KINDS})
    if grid:
        tiles = [image_rgb] + list(rendered.values())
        pictures[f'{name}_grid.png'] = make_grid(
            tiles, ['image'] + list(rendered),
            ncols=min(GRID_COLUMNS, len(tiles)))
    return pictures


def write_inference_outputs(out_dir: str, name: str, image_bgr: np.ndarray,
                            maps: Mapping[str, np.ndarray],
                            num_classes: Optional[Mapping] = None,
                            palettes: Optional[Mapping] = None,
                            overlay: bool = False, grid: bool = False,
                            save_npy: bool = False) -> List[str]:
    """Write :func:`render_inference_outputs`' PNGs (and, with
    ``save_npy``, ``<name>_<task>.npy`` raw arrays) into the existing
    folder ``out_dir``.

    Args:
        image_bgr: the image as loaded, (H, W, 3) BGR.

    Returns:
        The paths written.

    Raises:
        OSError: a file cannot be written (names it).
    """
    image_rgb = np.clip(image_bgr, 0, 255).astype(np.uint8)[..., ::-1]
    pictures = render_inference_outputs(name, image_rgb, maps, num_classes,
                                        palettes, overlay, grid)
    written = []
    for file_name, rgb in pictures.items():
        path = osp.join(out_dir, file_name)
        if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1])):
            raise OSError(f'cannot write {path}')
        written.append(path)
    if save_npy:
        for task, array in maps.items():
            path = osp.join(out_dir, f'{name}_{task}.npy')
            np.save(path, array)
            written.append(path)
    return written
