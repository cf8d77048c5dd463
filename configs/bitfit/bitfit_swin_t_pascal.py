# BitFit (Ben Zaken et al., ACL 2022, https://arxiv.org/abs/2106.10199) on
# an ImageNet-1k Swin-T, PASCAL-Context, 448x448
# (docs/en/methods/bias_tuning.md): only the backbone's bias terms train
# (every parameter named *.bias: linear layers, patch-embedding conv,
# LayerNorms; not the relative-position bias tables), one HRNet-style decoder
# per task over the four stage outputs. Trainable: 1,854,368 with the
# decoders (52,896 biases + 1,801,472 decoders; published 2.85 M with the
# Polyhistor benchmark's decoders).
_base_ = ['../_base_/pascal_context_swin_t.py']
model = dict(backbone=dict(type='BitFit', module=_base_.pretrained_swin_t))
