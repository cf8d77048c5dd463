# DoRA (r = 4, alpha = 4, qkv of every block, shared by all tasks) on a
# frozen, randomly initialised Swin-T, synthetic dataset (128x128, 5 tasks):
# minutes on CPU. Trainable: 2,311,962 with the five decoders (83,904 DoRA).
_base_ = ['../_base_/synthetic_swin_t.py']
dora = dict(type='DoRA', rank=4, alpha=4.0, dropout=0.0, roles=('qkv', ),
            detach_norm=True)
model = dict(backbone=dict(dora, module=_base_.synthetic_swin_t))
