"""mmmtl.models.backbones: Swin with checkpoint conversion, timm wrapper."""
from .swin import SwinTransformerMTL
from .swin_convert import (SwinLoadReport, convert_swin_state_dict,
                           detect_swin_layout, load_state_dict_file,
                           load_swin_checkpoint, resize_rel_pos_bias_table)
from .timm_backbone import SimpleFeaturePyramid, TimmMultiScaleBackbone

__all__ = [
    'SwinTransformerMTL', 'SwinLoadReport', 'convert_swin_state_dict',
    'detect_swin_layout', 'load_state_dict_file', 'load_swin_checkpoint',
    'resize_rel_pos_bias_table', 'TimmMultiScaleBackbone',
    'SimpleFeaturePyramid'
]
