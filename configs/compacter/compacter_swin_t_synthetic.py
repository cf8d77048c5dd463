# Compacter on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): the settings of compacter_swin_t_pascal.py, minutes
# on CPU.
_base_ = ['../_base_/synthetic_swin_t.py']
compacter = dict(type='Compacter', phm_dim=4, phm_rank=1, reduction=24)
model = dict(backbone=dict(compacter, module=_base_.synthetic_swin_t))
