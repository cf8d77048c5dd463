# Polyhistor on a frozen ImageNet-1k Swin-T, NYUD-v2 (semseg, depth,
# normals), 448x448, the NYUD recipe of the full fine-tuning config.
_base_ = ['../full_ft/full_ft_mtl_swin_t_nyud.py']
polyhistor = dict(type='Polyhistor', bottleneck=32, embed_dim=64,
                  hyper_dim=64, scale=1.0)
model = dict(
    backbone=dict(polyhistor, _delete_=True,
                  module=dict(_base_.swin_t, pretrained=_base_.pretrained)))
