# Houlsby adapters on a frozen, randomly initialised Swin-T, synthetic
# dataset (128x128, 5 tasks): the settings of
# adapter_houlsby_swin_t_pascal.py, minutes on CPU.
_base_ = ['../_base_/synthetic_swin_t.py']
adapter = dict(type='BottleneckAdapter', placement='houlsby', reduction=1,
               act='gelu', scale=1.0)
model = dict(backbone=dict(adapter, module=_base_.synthetic_swin_t))
