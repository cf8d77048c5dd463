"""Render a predicted sample: the image, then each task's prediction above
its ground truth."""
from typing import Optional, Sequence

import cv2
import numpy as np

from .task_maps import colorize_task_map, make_grid


def render_prediction(image_rgb: np.ndarray, sample, tasks: Sequence[str],
                      num_classes: Optional[dict] = None,
                      palettes: Optional[dict] = None) -> np.ndarray:
    """uint8 RGB grid for one ``MultiTaskDataSample`` with ``pred_maps``.

    Args:
        image_rgb: the input image (H0, W0, 3) uint8; resized to the
            prediction size when they differ.
        sample: a data sample whose ``pred_maps`` (and, when present,
            ``gt_maps``) hold one (C, H, W) map per task.
        tasks: tasks to draw, in order.
        num_classes: ``{task: K}`` for label palettes.
        palettes: ``{task: (K, 3) colours}``.

    Returns:
        Row 1: image and every task's prediction; row 2 (when ground truth is
        there): a blank cell and every task's ground truth.
    """
    num_classes, palettes = num_classes or {}, palettes or {}
    preds = sample.pred_maps
    height, width = preds.get(tasks[0]).shape[-2:]
    if image_rgb.shape[:2] != (height, width):
        image_rgb = cv2.resize(image_rgb, (width, height),
                               interpolation=cv2.INTER_LINEAR)
    tiles, titles = [image_rgb], ['image']
    for task in tasks:
        tiles.append(colorize_task_map(task, preds.get(task),
                                       num_classes.get(task),
                                       palettes.get(task)))
        titles.append(f'{task} pred')
    gts = sample.get('gt_maps')
    if gts is not None and all(task in gts for task in tasks):
        tiles.append(np.full_like(image_rgb, 255))
        titles.append('')
        for task in tasks:
            tiles.append(colorize_task_map(task, gts.get(task),
                                           num_classes.get(task),
                                           palettes.get(task)))
            titles.append(f'{task} gt')
    return make_grid(tiles, titles, ncols=len(tasks) + 1)
