"""PASCAL-Context multi-task formats (ASTMT / MTI-Net ``PASCAL_MT``).

* ``human_parts/<id>.mat``: Pascal-Part annotation. ``anno[0][0][1][0]`` is
  the array of objects; object ``o``: ``o[1][0][0]`` VOC class index
  (person = 15), ``o[2]`` instance mask, ``o[3]`` parts (empty when none);
  part ``p = o[3][0][i]``: name ``str(p[0][0])``, mask ``p[1]``.
* ``pascal-context/trainval/<id>.mat``: key ``LabelMap`` (H, W) of the
  459-class PASCAL-Context ids; used to mask distilled normals and to
  compute edges.
"""
import io
import json
from functools import lru_cache
from importlib import resources
from typing import FrozenSet, List, Optional, Tuple

import cv2
import numpy as np
import scipy.io
from skimage.morphology import thin

from mmmtl.datasets.decoders import (AnnotationError, decode_png_normals,
                                     read_bytes, register_decoder)
from .common import image_size

PERSON_CLASS_INDEX = 15
PART_GROUPS = {
    **{name: 1 for name in ('hair', 'head', 'lear', 'rear', 'lebrow',
                            'rebrow', 'leye', 'reye', 'mouth', 'nose')},
    **{name: 2 for name in ('neck', 'torso')},
    **{name: 3 for name in ('luarm', 'ruarm')},
    **{name: 4 for name in ('llarm', 'rlarm', 'lhand', 'rhand')},
    **{name: 5 for name in ('luleg', 'ruleg')},
    **{name: 6 for name in ('llleg', 'rlleg', 'lfoot', 'rfoot')},
}
PART_CLASSES = ('background', 'head', 'torso', 'upper_arms', 'lower_arms',
                'upper_legs', 'lower_legs')
NORMALS_CLASSES_FILE = 'pascal_context_normals_valid_classes.json'

PartObject = Tuple[int, np.ndarray, List[Tuple[str, np.ndarray]]]
_PARTS_LAYOUT = ("a Pascal-Part annotation: key 'anno' with anno[0][0][1][0] "
                 'the objects, each (class, class_index, mask, parts), each '
                 'part (name, mask)')


def _loadmat(path: str) -> dict:
    """``scipy.io.loadmat`` of the file ``path``; errors name the file."""
    content = read_bytes(path)
    try:
        return scipy.io.loadmat(io.BytesIO(content))
    except Exception as exc:  # scipy raises several types on bad files
        raise AnnotationError(f'cannot read .mat file {path}: {exc}') from exc


def read_part_objects(path: str) -> List[PartObject]:
    """Objects of a Pascal-Part ``.mat``: ``[(class_index, mask, parts)]``.

    ``parts`` is a list of ``(part name, mask)``; masks are bool (H, W).
    """
    mat = _loadmat(path)
    if 'anno' not in mat:
        raise AnnotationError(f"no key 'anno' in {path}; expected "
                              f'{_PARTS_LAYOUT}')
    try:
        objects = mat['anno'][0][0][1]
        objects = objects[0] if objects.size else []
        out = []
        for obj in objects:
            parts = obj[3]
            part_list = [(str(parts[0][i][0][0]),
                          np.asarray(parts[0][i][1], dtype=bool))
                         for i in range(parts.shape[1])] if parts.size else []
            out.append((int(obj[1][0][0]), np.asarray(obj[2], dtype=bool),
                        part_list))
    except (IndexError, TypeError, ValueError, KeyError) as exc:
        raise AnnotationError(f'unexpected structure in {path} ({exc}); '
                              f'expected {_PARTS_LAYOUT}') from exc
    return out


def _person_parts(objects: List[PartObject]) -> List[PartObject]:
    return [o for o in objects if o[0] == PERSON_CLASS_INDEX and o[2]]


def has_person_parts(path: str) -> bool:
    """Whether the Pascal-Part ``.mat`` holds a person with parts."""
    return bool(_person_parts(read_part_objects(path)))


@register_decoder('pascal_parts_mat')
def decode_pascal_parts(path: str,
                        image_path: Optional[str] = None) -> np.ndarray:
    """Pascal-Part ``.mat`` -> uint8 (H, W) of the 7 part groups.

    Only person objects (class 15) with parts contribute: the map is 0
    (background) and each part mask writes its group id (``PART_GROUPS``).
    Without such a person the whole map is 255 (ignored); its size is that
    of any object mask, else of the image at ``image_path``.
    """
    objects = read_part_objects(path)
    persons = _person_parts(objects)
    if not persons:
        if objects:
            shape = objects[0][1].shape
        elif image_path is not None:
            shape = image_size(image_path)
        else:
            raise AnnotationError(f'{path} holds no object; pass image_path '
                                  'to size the ignored map')
        return np.full(shape, 255, dtype=np.uint8)
    target = np.zeros(persons[0][1].shape, dtype=np.uint8)
    for _, _, parts in persons:
        for name, mask in parts:
            if name not in PART_GROUPS:
                raise AnnotationError(f'unknown person part {name!r} in '
                                      f'{path}; known: '
                                      f'{", ".join(PART_GROUPS)}')
            if mask.shape != target.shape:
                raise AnnotationError(f'part {name!r} mask has shape '
                                      f'{mask.shape}, expected '
                                      f'{target.shape} in {path}')
            target[mask] = PART_GROUPS[name]
    return target


def load_label_map(path: str) -> np.ndarray:
    """``LabelMap`` (H, W) of a PASCAL-Context ``.mat`` (459-class ids)."""
    mat = _loadmat(path)
    if 'LabelMap' not in mat:
        raise AnnotationError(f"no key 'LabelMap' in {path}; expected a "
                              'PASCAL-Context trainval label file')
    labels = np.asarray(mat['LabelMap'])
    if labels.ndim != 2:
        raise AnnotationError(f'LabelMap has shape {labels.shape}, expected '
                              f'(H, W): {path}')
    return labels


@lru_cache(maxsize=1)
def normals_valid_classes() -> FrozenSet[int]:
    """PASCAL-Context class ids whose pixels keep their distilled normals."""
    text = (resources.files('mmmtl.datasets') / 'data' /
            NORMALS_CLASSES_FILE).read_text()
    return frozenset(int(i) for i in json.loads(text)['ids'])


def class_mask(labels: np.ndarray, classes: FrozenSet[int]) -> np.ndarray:
    """bool (H, W), True where ``labels`` is one of ``classes``.

    Unsigned maps use a lookup table indexed by the label (several times
    faster than ``np.isin``); other dtypes fall back to ``np.isin``.
    """
    if labels.dtype.kind != 'u' or labels.size == 0:
        return np.isin(labels, sorted(classes))
    table = np.zeros(max(int(labels.max()), max(classes, default=0)) + 1,
                     dtype=bool)
    table[sorted(classes)] = True
    return table[labels]


@register_decoder('pascal_normals')
def decode_pascal_normals(path: str, label_path: str) -> np.ndarray:
    """``normals_distill`` PNG masked by the context classes -> (H, W, 3).

    Pixels whose ``LabelMap`` class (``label_path``) is not in
    :func:`normals_valid_classes` become zero vectors (ignored).
    """
    normals = decode_png_normals(path)
    labels = load_label_map(label_path)
    if labels.shape != normals.shape[:2]:
        raise AnnotationError(f'normals {path} have size '
                              f'{normals.shape[:2]} but the LabelMap '
                              f'{label_path} has size {labels.shape}')
    normals[~class_mask(labels, normals_valid_classes())] = 0.0
    return normals


@register_decoder('pascal_edges')
def decode_pascal_edges(path: str) -> np.ndarray:
    """Edges of a ``LabelMap`` -> uint8 (H, W) of 0/1.

    ``|Laplacian(LabelMap)| > 0`` thinned to one-pixel lines, as the
    reference loaders do.
    """
    labels = load_label_map(path).astype(np.float64)
    laplacian = cv2.Laplacian(labels, cv2.CV_64F)
    return thin(np.abs(laplacian) > 0).astype(np.uint8)
