# Polyhistor on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU.
_base_ = ['../full_ft/full_ft_mtl_swin_t_synthetic.py']
model = dict(
    backbone=dict(type='Polyhistor', _delete_=True,
                  module=_base_.synthetic_swin_t, bottleneck=32,
                  embed_dim=64, hyper_dim=64, scale=1.0))
