# Scaled parallel adapters on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks): the settings of
# adapter_parallel_swin_t_pascal.py, minutes on CPU.
_base_ = ['../_base_/synthetic_swin_t.py']
adapter = dict(type='BottleneckAdapter', placement='parallel', reduction=2,
               act='relu', scale=4.0)
model = dict(backbone=dict(adapter, module=_base_.synthetic_swin_t))
