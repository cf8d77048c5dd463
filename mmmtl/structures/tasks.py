"""Task specifications: what a task's ground truth and prediction look like.

A task is a name with a *kind*; the kind decides how maps are interpolated,
padded, packed, post-processed and evaluated, so adding a task to a dataset
needs no edit in the segmentor, the preprocessor or the metric: register a
:class:`TaskSpec` and give the dataset a decoder for it.

Kinds and their in-memory ground-truth format (numpy, after loading):

===========  =====================  =================================  =============
kind         gt array               meaning                            ignore
===========  =====================  =================================  =============
``label``    uint8 (H, W)           class id                           255
``binary``   uint8 (H, W)           0 / 1                              255
``normal``   float32 (H, W, 3)      unit vector (x, y, z)              zero vector
``scalar``   float32 (H, W)         a value (depth in metres)          0 (invalid)
===========  =====================  =================================  =============

Predictions (``pred_maps``) are ``label``: int64 (1, H, W) class ids;
``binary``: float32 (1, H, W) probabilities; ``normal``: float32 (3, H, W)
unit vectors; ``scalar``: float32 (1, H, W).
"""
from dataclasses import dataclass
from typing import Dict, Tuple

KINDS = ('label', 'binary', 'normal', 'scalar')


@dataclass(frozen=True)
class TaskSpec:
    """Description of one dense prediction task.

    Args:
        name: task name used in configs (``semseg``, ``normals``, ...).
        kind: one of :data:`KINDS`.
        ignore_value: value of ignored pixels in the ground truth (for
            ``normal``: the value of every channel of an ignored pixel).
    """
    name: str
    kind: str
    ignore_value: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'task {self.name!r}: kind {self.kind!r} is not '
                             f'one of {KINDS}')

    @property
    def gt_channels(self) -> int:
        """Channels of the ground-truth map (3 for normals, else 1)."""
        return 3 if self.kind == 'normal' else 1

    @property
    def is_discrete(self) -> bool:
        """Whether maps hold discrete values (nearest interpolation)."""
        return self.kind in ('label', 'binary')


_TASKS: Dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec, force: bool = False) -> TaskSpec:
    """Add ``spec`` to the known tasks; returns it."""
    if spec.name in _TASKS and not force and _TASKS[spec.name] != spec:
        raise KeyError(f'task {spec.name!r} is already registered as '
                       f'{_TASKS[spec.name]}')
    _TASKS[spec.name] = spec
    return spec


def known_tasks() -> Tuple[str, ...]:
    """Names of every registered task."""
    return tuple(_TASKS)


def get_task(name: str) -> TaskSpec:
    """Return the spec of ``name``; the error lists the known tasks."""
    try:
        return _TASKS[name]
    except KeyError:
        raise KeyError(f'unknown task {name!r}; known tasks: '
                       f'{", ".join(known_tasks())} (register new ones with '
                       'mmmtl.structures.register_task)') from None


def check_tasks(names, available=None, what: str = 'config') -> Tuple[str, ...]:
    """Validate task ``names`` (known, and in ``available`` when given)."""
    names = tuple(names)
    for name in names:
        get_task(name)
        if available is not None and name not in available:
            raise KeyError(f'task {name!r} requested by the {what} is not '
                           f'provided by the dataset; it provides: '
                           f'{", ".join(available)}')
    return names


for _spec in (TaskSpec('semseg', 'label', 255),
              TaskSpec('human_parts', 'label', 255),
              TaskSpec('saliency', 'binary', 255),
              TaskSpec('edges', 'binary', 255),
              TaskSpec('normals', 'normal', 0.0),
              TaskSpec('depth', 'scalar', 0.0)):
    register_task(_spec)
