"""Base class of every multi-task dataset (see docs/en/architecture.md)."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset

from mmmtl.structures import check_tasks, get_task

PREPARE_DOC = 'docs/en/dataset_prepare.md'


def check_data_root(owner: str, data_root: Optional[str],
                    hint: str) -> None:
    """Raise unless ``data_root`` is an existing folder.

    Args:
        owner: dataset class name, for the message.
        data_root: the configured data root.
        hint: how to prepare the data (appended when it is missing).

    Raises:
        FileNotFoundError: ``data_root`` is empty or does not exist.
        ValueError: ``data_root`` is a file, not a folder.
    """
    path = osp.abspath(data_root or '')
    if data_root and osp.exists(data_root) and not osp.isdir(data_root):
        raise ValueError(f'{owner}: data root {path!r} is a file, not a '
                         'folder; set data_root to the dataset folder')
    if not data_root or not osp.isdir(data_root):
        raise FileNotFoundError(
            f'{owner}: data root {path!r} does not exist; {hint}')


def check_unique_ids(ids: List[Tuple[int, str]], what: str) -> None:
    """Raise ``ValueError`` naming the ids listed more than once (with
    their line numbers) in ``ids`` = ``[(line number, id)]``."""
    lines: Dict[str, List[int]] = {}
    for number, img_id in ids:
        lines.setdefault(img_id, []).append(number)
    repeated = {i: n for i, n in lines.items() if len(n) > 1}
    if repeated:
        shown = ', '.join(f'{i!r} (lines {", ".join(map(str, n))})'
                          for i, n in list(repeated.items())[:10])
        raise ValueError(f'{what} lists {len(repeated)} image id(s) more '
                         f'than once: {shown}; each image must appear once')


class MultiTaskDataset(BaseDataset):
    """A dataset whose samples carry annotations of several dense tasks.

    Subclasses set ``METAINFO`` (``tasks`` they provide, ``num_classes`` and
    ``classes`` per label task) and implement :meth:`load_data_list`, which
    returns one data_info per image::

        dict(img_path=str, img_id=str, sample_idx=int, tasks=tuple,
             ann_info={task: dict(type=<decoder>, path=str,
                                  num_classes=int (label/binary), ...)})

    ``metainfo['tasks']`` is the selected tasks (``tasks``), and
    ``metainfo['num_classes']`` / ``['classes']`` / ``['palette']`` are
    restricted to them; ``metainfo['available_tasks']`` lists all the tasks
    the dataset provides.

    Args:
        data_root: dataset folder.
        split: split name (``'train'`` or ``'val'``).
        tasks: tasks to load (a subset of ``METAINFO['tasks']``); None: all.
        pipeline: transforms applied to each data_info.
        test_mode: mmengine's test mode flag.
        check_files: check at construction that every file of the split
            exists (an error lists the missing ones); the dataset checker
            turns it off to report problems itself.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO: dict = dict(tasks=(), num_classes={}, classes={})
    PREPARE_HINT: str = f'see {PREPARE_DOC}'

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 tasks: Optional[Sequence[str]] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 check_files: bool = True,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.split = split
        self.check_files = check_files
        provided = tuple(self.METAINFO['tasks'])
        self.tasks = provided if tasks is None else check_tasks(
            tasks, available=provided, what=f'{type(self).__name__} config')
        self.require_root(data_root)
        meta = self.task_metainfo(self.tasks)
        meta.update(metainfo or {})
        super().__init__(data_root=data_root, pipeline=list(pipeline),
                         test_mode=test_mode, metainfo=meta, **kwargs)

    @classmethod
    def task_metainfo(cls, tasks: Sequence[str]) -> dict:
        """``METAINFO`` restricted to ``tasks``."""
        meta = copy.deepcopy(cls.METAINFO)
        for key in ('num_classes', 'classes', 'palette'):
            if key in meta:
                meta[key] = {t: v for t, v in meta[key].items() if t in tasks}
        meta['available_tasks'] = tuple(meta['tasks'])
        meta['tasks'] = tuple(tasks)
        return meta

    def require_root(self, data_root: str) -> None:
        """Check that ``data_root`` is an existing folder.

        Raises:
            FileNotFoundError: it does not exist (with how to prepare it).
            ValueError: it is a file, not a folder.
        """
        check_data_root(type(self).__name__, data_root, self.PREPARE_HINT)

    def read_split(self, path: str) -> List[str]:
        """Image ids listed in the split file ``path`` (one per line).

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: it is not a file, cannot be read, lists no id or
                lists an id more than once (the lines are named).
        """
        what = f'{type(self).__name__}: split file {path!r}'
        if not osp.exists(path):
            raise FileNotFoundError(
                f'{what} for split {self.split!r} does not exist; '
                f'{self.PREPARE_HINT}')
        if not osp.isfile(path):
            raise ValueError(f'{what} is a folder, not a file')
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, 'strerror', None) or exc
            raise ValueError(f'{what} cannot be read: {reason}') from exc
        ids = [(number, line.strip()) for number, line in
               enumerate(lines, start=1) if line.strip()]
        if not ids:
            raise ValueError(f'{what} lists no image ids')
        check_unique_ids(ids, what)
        return [img_id for _, img_id in ids]

    def ann_entry(self, task: str, type: str, path: str, **options) -> dict:
        """One ``ann_info`` entry; adds ``num_classes`` for label/binary."""
        entry = dict(type=type, path=path, **options)
        if get_task(task).kind in ('label', 'binary'):
            entry['num_classes'] = self.metainfo['num_classes'][task]
        return entry

    def make_data_info(self, idx: int, img_id: str, img_path: str,
                       ann_info: Dict[str, dict]) -> dict:
        """A data_info in the format of the architecture contract."""
        return dict(img_path=img_path, img_id=img_id, sample_idx=idx,
                    tasks=self.tasks, ann_info=ann_info)

    def required_files(self, data_info: dict) -> List[str]:
        """Files a data_info needs: the image and every ``*path`` option."""
        paths = [data_info['img_path']]
        for ann in data_info['ann_info'].values():
            paths += [v for k, v in ann.items()
                      if k.endswith('path') and isinstance(v, str)]
        return paths

    def missing_files(self, data_list: Optional[List[dict]] = None
                      ) -> List[str]:
        """Sorted files of the split that do not exist."""
        if data_list is None:
            data_list = [self.get_data_info(i) for i in range(len(self))]
        missing = {p for info in data_list for p in self.required_files(info)
                   if not osp.isfile(p)}
        return sorted(missing)

    def verify_files(self, data_list: List[dict]) -> None:
        """Raise ``FileNotFoundError`` listing files missing from the split."""
        missing = self.missing_files(data_list)
        if missing:
            shown = '\n  '.join(missing[:10])
            raise FileNotFoundError(
                f'{type(self).__name__} ({self.split} split of '
                f'{self.data_root}): {len(missing)} file(s) needed by the '
                f'split are missing, e.g.\n  {shown}\nrun '
                'tools/misc/check_dataset.py for a full report; '
                f'{self.PREPARE_HINT}')

    def load_data_list(self) -> List[dict]:
        """Build the data_infos of the split (subclasses implement)."""
        raise NotImplementedError
