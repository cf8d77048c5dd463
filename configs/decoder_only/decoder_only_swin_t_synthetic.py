# Decoders only (the backbone fully frozen) on a randomly initialised
# Swin-T, synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable:
# 2,228,058 (the five decoders).
_base_ = ['../_base_/synthetic_swin_t.py']
model = dict(backbone=dict(type='DecoderOnly',
                           module=_base_.synthetic_swin_t))
