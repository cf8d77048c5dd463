# Relative-position bias tuning (the "Relative bias" baseline of the
# Polyhistor benchmark, Liu et al., NeurIPS 2022,
# https://arxiv.org/abs/2210.03265) on an ImageNet-1k Swin-T,
# PASCAL-Context, 448x448 (docs/en/methods/bias_tuning.md): only the
# relative-position bias tables of the window attentions train, one
# HRNet-style decoder per task over the four stage outputs. Trainable:
# 1,824,794 with the decoders (23,322 table entries + 1,801,472 decoders).
_base_ = ['../_base_/pascal_context_swin_t.py']
model = dict(backbone=dict(type='RelPosBiasTuning',
                           module=_base_.pretrained_swin_t))
