# Low-rank adapters on a frozen, randomly initialised Swin-T, synthetic
# dataset (128x128, 5 tasks): the settings of
# low_rank_adapter_swin_t_pascal.py, minutes on CPU.
_base_ = ['../_base_/synthetic_swin_t.py']
adapter = dict(type='LowRankAdapter', rank=1, reduction=24)
model = dict(backbone=dict(adapter, module=_base_.synthetic_swin_t))
