# Multi-task full fine-tuning, Swin-T (ImageNet-1k), PASCAL-Context, 448x448,
# the four tasks of the published tables (docs/en/methods/mtlora.md recipe).
_base_ = ['../_base_/pascal_context_swin_t.py']
model = dict(backbone=_base_.pretrained_swin_t)
