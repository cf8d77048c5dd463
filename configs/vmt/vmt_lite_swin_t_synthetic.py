# VMT-Adapter-Lite on a frozen, randomly initialised Swin-T, synthetic data.
_base_ = ['../full_ft/full_ft_mtl_swin_t_synthetic.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VMTAdapterLite',
        module=_base_.synthetic_swin_t,
        bottleneck=21,
        scale=1.0,
        task_features='last'))
