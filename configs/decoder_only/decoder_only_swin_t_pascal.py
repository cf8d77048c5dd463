# Decoders only (the "tuning decoders only" baseline of the Polyhistor
# benchmark, Liu et al., NeurIPS 2022, https://arxiv.org/abs/2210.03265) on
# a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448
# (docs/en/methods/bias_tuning.md): nothing of the backbone trains, one
# HRNet-style decoder per task over the four stage outputs. Trainable:
# 1,801,472 (the decoders).
_base_ = ['../_base_/pascal_context_swin_t.py']
model = dict(backbone=dict(type='DecoderOnly',
                           module=_base_.pretrained_swin_t))
