# Polyhistor on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU.
_base_ = ['../_base_/synthetic_swin_t.py']
polyhistor = dict(type='Polyhistor', bottleneck=32, embed_dim=64,
                  hyper_dim=64, scale=1.0)
model = dict(backbone=dict(polyhistor, module=_base_.synthetic_swin_t))
