"""PASCAL-Context multi-task dataset (ASTMT / MTI-Net ``PASCAL_MT``)."""
import os.path as osp
from typing import Dict, List, Optional

from mmmtl.registry import DATASETS
from .cache import cache_key, cached_per_file, user_cache_dir
from .decoders import AnnotationError
from .formats.pascal import PART_CLASSES, has_person_parts
from .multitask_dataset import PREPARE_DOC, MultiTaskDataset

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat',
               'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
               'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep',
               'sofa', 'train', 'tvmonitor')
VOC_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
               [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128],
               [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0],
               [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
               [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0],
               [0, 64, 128]]
PART_PALETTE = [[0, 0, 0], [220, 20, 60], [255, 165, 0], [255, 255, 0],
                [0, 191, 255], [50, 205, 50], [138, 43, 226]]


@DATASETS.register_module()
class PascalContextMTDataset(MultiTaskDataset):
    """PASCAL-Context for semseg, human parts, saliency, normals and edges.

    Layout under ``data_root`` (see ``docs/en/dataset_prepare.md``):
    ``JPEGImages/<id>.jpg``, ``ImageSets/Context/<split>.txt``,
    ``semseg/VOC12/<id>.png`` (preferred) or ``semseg/pascal-context/``,
    ``human_parts/<id>.mat``, ``normals_distill/<id>.png``,
    ``sal_distill/<id>.png``, ``pascal-context/trainval/<id>.mat``.

    Images without a person that has parts get an all-255 human-parts map.
    Which images have such a person is computed once and cached as JSON in
    the user cache dir (:func:`user_cache_dir`), keyed by root and split;
    a ``.mat`` file is read again whenever it is added, removed or its
    content changes. Nothing is written under ``data_root``.

    Args:
        data_root: dataset folder (default ``data/PASCALContext``).
        **kwargs: see :class:`MultiTaskDataset`.
    """

    METAINFO = dict(
        tasks=('semseg', 'human_parts', 'saliency', 'normals', 'edges'),
        num_classes=dict(semseg=21, human_parts=7, saliency=2, edges=2),
        classes=dict(semseg=VOC_CLASSES, human_parts=PART_CLASSES),
        palette=dict(semseg=VOC_PALETTE, human_parts=PART_PALETTE))
    PREPARE_HINT = (f'download and unpack PASCAL_MT as described in '
                    f'{PREPARE_DOC} (PASCAL-Context)')
    SPLIT_DIR = osp.join('ImageSets', 'Context')
    SEMSEG_DIRS = (osp.join('semseg', 'VOC12'),
                   osp.join('semseg', 'pascal-context'))

    def __init__(self, data_root: str = 'data/PASCALContext',
                 **kwargs) -> None:
        super().__init__(data_root=data_root, **kwargs)

    def path(self, *parts: str) -> str:
        """Path under the data root."""
        return osp.join(self.data_root, *parts)

    def semseg_path(self, img_id: str) -> str:
        """``semseg/VOC12/<id>.png`` if present, else ``pascal-context``."""
        for folder in self.SEMSEG_DIRS:
            candidate = self.path(folder, f'{img_id}.png')
            if osp.isfile(candidate):
                return candidate
        return candidate

    def parts_path(self, img_id: str) -> str:
        return self.path('human_parts', f'{img_id}.mat')

    def label_map_path(self, img_id: str) -> str:
        return self.path('pascal-context', 'trainval', f'{img_id}.mat')

    def has_parts_cache(self, ids: List[str]) -> Dict[str, bool]:
        """``{id: image has a person with parts}``, cached outside the root.

        The cache (one JSON file per root and split in the user cache dir)
        keeps each ``human_parts/<id>.mat``'s answer with the file's stamp;
        a file is read again when it was added, removed, rewritten or
        replaced (:func:`cached_per_file`).
        """
        root = osp.abspath(self.data_root)
        cache_file = (user_cache_dir() / 'pascal_context_parts' /
                      f'{cache_key(root, self.split)}.json')

        def scan(path: str) -> bool:
            if not osp.isfile(path):
                return False
            try:
                return has_person_parts(path)
            except AnnotationError:
                return True  # the decoder reports the file when loading

        paths = {img_id: self.parts_path(img_id) for img_id in ids}
        return cached_per_file(cache_file, paths, scan)

    def task_annotation(self, task: str, img_id: str, img_path: str,
                        has_parts: Optional[bool]) -> dict:
        """The ``ann_info`` entry of ``task`` for image ``img_id``."""
        if task == 'semseg':
            return self.ann_entry(task, 'png_index', self.semseg_path(img_id))
        if task == 'human_parts':
            if has_parts:
                return self.ann_entry(task, 'pascal_parts_mat',
                                      self.parts_path(img_id),
                                      image_path=img_path)
            return self.ann_entry(task, 'ignore_like_image', img_path)
        if task == 'saliency':
            return self.ann_entry(task, 'png_binary',
                                  self.path('sal_distill', f'{img_id}.png'),
                                  threshold=0.5)
        if task == 'normals':
            return self.ann_entry(
                task, 'pascal_normals',
                self.path('normals_distill', f'{img_id}.png'),
                label_path=self.label_map_path(img_id))
        if task == 'edges':
            return self.ann_entry(task, 'pascal_edges',
                                  self.label_map_path(img_id))
        raise KeyError(f'{type(self).__name__} has no annotation for task '
                       f'{task!r}')

    def required_files(self, data_info: dict) -> List[str]:
        """Also the parts ``.mat`` of images without a person with parts."""
        paths = super().required_files(data_info)
        if 'human_parts' in self.tasks:
            paths.append(self.parts_path(data_info['img_id']))
        return paths

    def load_data_list(self) -> List[dict]:
        ids = self.read_split(self.path(self.SPLIT_DIR, f'{self.split}.txt'))
        has_parts = {}
        if 'human_parts' in self.tasks:
            has_parts = self.has_parts_cache(ids)
        data_list = []
        for idx, img_id in enumerate(ids):
            img_path = self.path('JPEGImages', f'{img_id}.jpg')
            ann_info = {
                task: self.task_annotation(task, img_id, img_path,
                                           has_parts.get(img_id))
                for task in self.tasks
            }
            data_list.append(
                self.make_data_info(idx, img_id, img_path, ann_info))
        if self.check_files:
            self.verify_files(data_list)
        return data_list
