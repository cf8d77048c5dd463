# BitFit (only the backbone's bias terms train) on a randomly initialised
# Swin-T, synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable:
# 2,280,954 with the five decoders (52,896 biases).
_base_ = ['../_base_/synthetic_swin_t.py']
model = dict(backbone=dict(type='BitFit', module=_base_.synthetic_swin_t))
