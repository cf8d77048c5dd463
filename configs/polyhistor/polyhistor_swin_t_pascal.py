# Polyhistor (Liu et al., NeurIPS 2022) on a frozen ImageNet-1k Swin-T,
# PASCAL-Context, 448x448, the reference recipe of the full fine-tuning
# config it inherits (docs/en/methods/polyhistor.md): hypernetwork-generated
# task adapters beside every MLP (bottleneck 32, per-stage templates), the
# four task streams batched through the backbone. 7,801,152 trainable with
# the decoders (published 8.96 M with the paper's decoders).
_base_ = ['../full_ft/full_ft_mtl_swin_t_pascal.py']
polyhistor = dict(type='Polyhistor', bottleneck=32, embed_dim=64,
                  hyper_dim=64, scale=1.0)
model = dict(
    backbone=dict(polyhistor, _delete_=True,
                  module=dict(_base_.swin_t, pretrained=_base_.pretrained)))
