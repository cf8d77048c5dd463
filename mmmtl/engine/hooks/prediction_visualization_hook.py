"""Write a PNG of every test sample's predictions (``tools/test.py
--show-dir``)."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
from mmengine.hooks import Hook

from mmmtl.registry import HOOKS
from mmmtl.visualization import render_prediction


@HOOKS.register_module()
class PredictionVisualizationHook(Hook):
    """After each test iteration, save ``<out_dir>/<image name>.png``: the
    image and each task's prediction, with the ground truth below.

    Args:
        out_dir: output folder (created).
        max_samples: stop after this many images (None: all).
    """

    def __init__(self, out_dir: str, max_samples: Optional[int] = None):
        self.out_dir = out_dir
        self.max_samples = max_samples
        self._written = 0

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        meta = runner.test_loop.dataloader.dataset.metainfo
        os.makedirs(self.out_dir, exist_ok=True)
        for sample in outputs or ():
            if self.max_samples is not None and \
                    self._written >= self.max_samples:
                return
            path = sample.metainfo['img_path']
            image = cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]
            tasks = tuple(task for task in meta['tasks']
                          if task in sample.pred_maps)
            grid = render_prediction(image, sample, tasks,
                                     meta.get('num_classes'),
                                     meta.get('palette'))
            name = osp.splitext(osp.basename(path))[0]
            cv2.imwrite(osp.join(self.out_dir, f'{name}.png'), grid[..., ::-1])
            self._written += 1
