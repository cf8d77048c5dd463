# Multi-task full fine-tuning, Swin-T (ImageNet-1k), NYUD-v2, 448x448:
# semseg (40 classes), depth and normals as in the published NYUD tables.
_base_ = ['../_base_/nyud_swin_t.py']
model = dict(backbone=_base_.pretrained_swin_t)
