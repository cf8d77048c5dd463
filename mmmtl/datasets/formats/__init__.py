"""Decoders of the on-disk dataset formats (registered on import)."""
from .common import image_size, read_indexed_png
from .nyud import decode_nyud_semseg
from .pascal import (PART_GROUPS, PERSON_CLASS_INDEX, has_person_parts,
                     load_label_map, normals_valid_classes, read_part_objects)

__all__ = [
    'image_size', 'read_indexed_png', 'decode_nyud_semseg', 'PART_GROUPS',
    'PERSON_CLASS_INDEX', 'has_person_parts', 'load_label_map',
    'normals_valid_classes', 'read_part_objects'
]
