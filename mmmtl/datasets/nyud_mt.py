"""NYUD-v2 multi-task dataset (the MTI-Net / InvPT ``NYUD_MT`` folder)."""
import os.path as osp
from typing import List

from mmmtl.registry import DATASETS
from .multitask_dataset import PREPARE_DOC, MultiTaskDataset

NYUD_CLASSES = ('wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table',
                'door', 'window', 'bookshelf', 'picture', 'counter', 'blinds',
                'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror',
                'floor mat', 'clothes', 'ceiling', 'books', 'refridgerator',
                'television', 'paper', 'towel', 'shower curtain', 'box',
                'whiteboard', 'person', 'night stand', 'toilet', 'sink',
                'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
                'otherprop')


@DATASETS.register_module()
class NYUDv2MTDataset(MultiTaskDataset):
    """NYUD-v2 for semseg (40 classes), depth, normals and edges.

    Layout under ``data_root``: ``images/<id>.jpg``,
    ``segmentation/<id>.png`` (0 = unlabelled -> 255, others minus 1),
    ``depth/<id>.npy`` (metres, 0 = invalid), ``normals/<id>.npy``
    ((H, W, 3) in [-1, 1]), ``edge/<id>.npy`` (binary),
    ``gt_sets/<split>.txt``.

    Args:
        data_root: dataset folder (default ``data/NYUDv2``).
        **kwargs: see :class:`MultiTaskDataset`.
    """

    METAINFO = dict(
        tasks=('semseg', 'depth', 'normals', 'edges'),
        num_classes=dict(semseg=40, edges=2),
        classes=dict(semseg=NYUD_CLASSES))
    PREPARE_HINT = (f'download and unpack NYUD_MT as described in '
                    f'{PREPARE_DOC} (NYUD-v2)')
    TASK_FILES = dict(semseg=('segmentation', '.png', 'nyud_semseg'),
                      depth=('depth', '.npy', 'npy_depth'),
                      normals=('normals', '.npy', 'npy_normals'),
                      edges=('edge', '.npy', 'npy_edges'))

    def __init__(self, data_root: str = 'data/NYUDv2', **kwargs) -> None:
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        ids = self.read_split(
            osp.join(self.data_root, 'gt_sets', f'{self.split}.txt'))
        data_list = []
        for idx, img_id in enumerate(ids):
            ann_info = {}
            for task in self.tasks:
                folder, ext, decoder = self.TASK_FILES[task]
                path = osp.join(self.data_root, folder, img_id + ext)
                ann_info[task] = self.ann_entry(task, decoder, path)
            img_path = osp.join(self.data_root, 'images', f'{img_id}.jpg')
            data_list.append(
                self.make_data_info(idx, img_id, img_path, ann_info))
        if self.check_files:
            self.verify_files(data_list)
        return data_list
