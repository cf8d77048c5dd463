# The README demo: VMT-Adapter on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks), a few minutes on 2 CPU cores.
_base_ = ['../full_ft/full_ft_mtl_swin_t_synthetic.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VMTAdapter',
        module=_base_.synthetic_swin_t,
        bottleneck=30,
        scale=1.0,
        task_features='last'))
