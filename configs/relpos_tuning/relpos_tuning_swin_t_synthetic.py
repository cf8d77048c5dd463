# Relative-position bias tuning on a randomly initialised Swin-T, synthetic
# dataset (128x128, 5 tasks): minutes on CPU. Trainable: 2,234,820 with the
# five decoders (6,762 table entries, window 4).
_base_ = ['../_base_/synthetic_swin_t.py']
model = dict(backbone=dict(type='RelPosBiasTuning',
                           module=_base_.synthetic_swin_t))
