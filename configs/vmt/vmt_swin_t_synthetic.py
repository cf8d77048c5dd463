# The README demo: VMT-Adapter on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks), a few minutes on 2 CPU cores.
_base_ = ['../_base_/synthetic_swin_t.py']
vmt = dict(type='VMTAdapter', bottleneck=30, scale=1.0, task_features='last')
model = dict(backbone=dict(vmt, module=_base_.synthetic_swin_t))
