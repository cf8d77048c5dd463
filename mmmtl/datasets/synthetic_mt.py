"""The synthetic multi-task dataset (PASCAL-Context layout plus depth)."""
import os.path as osp
from typing import Optional

from mmmtl.registry import DATASETS
from .formats.pascal import PART_CLASSES
from .pascal_context_mt import PART_PALETTE, PascalContextMTDataset
from .synthetic import (SYNTHETIC_CLASSES, ensure_synthetic_dataset,
                        synthetic_cache_root)

SYNTHETIC_PALETTE = [[0, 0, 0], [220, 50, 40], [50, 170, 60], [50, 80, 220],
                     [230, 200, 50], [190, 60, 200]]


@DATASETS.register_module()
class SyntheticMultiTaskDataset(PascalContextMTDataset):
    """Synthetic scenes with semseg, human parts, saliency, normals, edges
    and depth, read through the PASCAL-Context loader.

    Args:
        data_root: dataset folder; None uses
            ``<cache>/synthetic/<hash of the generation parameters>``.
        auto_generate: generate the data when ``data_root`` does not exist
            (a file there is an error, never overwritten).
        num_train, num_val, size, seed: generation parameters
            (:func:`generate_synthetic_dataset`).
        **kwargs: see :class:`MultiTaskDataset`.
    """

    METAINFO = dict(
        tasks=('semseg', 'human_parts', 'saliency', 'normals', 'edges',
               'depth'),
        num_classes=dict(semseg=len(SYNTHETIC_CLASSES), human_parts=7,
                         saliency=2, edges=2),
        classes=dict(semseg=SYNTHETIC_CLASSES, human_parts=PART_CLASSES),
        palette=dict(semseg=SYNTHETIC_PALETTE, human_parts=PART_PALETTE))
    PREPARE_HINT = ('generate it with `python tools/misc/'
                    'make_synthetic_dataset.py --out DIR` or set '
                    'auto_generate=True')

    def __init__(self, data_root: Optional[str] = None,
                 auto_generate: bool = True, num_train: int = 64,
                 num_val: int = 32, size: int = 128, seed: int = 0,
                 **kwargs) -> None:
        params = dict(num_train=num_train, num_val=num_val, size=size,
                      seed=seed)
        if data_root is None:
            data_root = str(synthetic_cache_root(**params))
        if auto_generate and not osp.exists(data_root):
            ensure_synthetic_dataset(data_root, **params)
        super().__init__(data_root=data_root, **kwargs)

    def task_annotation(self, task: str, img_id: str, img_path: str,
                        has_parts: Optional[bool]) -> dict:
        """Depth from ``depth/<id>.npy``; other tasks as PASCAL-Context."""
        if task == 'depth':
            return self.ann_entry(task, 'npy_depth',
                                  self.path('depth', f'{img_id}.npy'))
        return super().task_annotation(task, img_id, img_path, has_parts)
