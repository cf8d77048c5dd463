# Polyhistor (Liu et al., NeurIPS 2022) on a frozen ImageNet-1k Swin-T,
# PASCAL-Context, 448x448 (docs/en/methods/polyhistor.md):
# hypernetwork-generated task adapters beside every MLP (bottleneck 32,
# per-stage templates), the four task streams batched through the backbone.
# 7,801,152 trainable with the decoders (published 8.96 M with the paper's
# decoders).
_base_ = ['../_base_/pascal_context_swin_t.py']
polyhistor = dict(type='Polyhistor', bottleneck=32, embed_dim=64,
                  hyper_dim=64, scale=1.0)
model = dict(backbone=dict(polyhistor, module=_base_.pretrained_swin_t))
