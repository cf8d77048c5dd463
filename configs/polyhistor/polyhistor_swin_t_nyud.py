# Polyhistor on a frozen ImageNet-1k Swin-T, NYUD-v2 (semseg, depth,
# normals), 448x448 (see polyhistor_swin_t_pascal.py).
_base_ = ['../_base_/nyud_swin_t.py']
polyhistor = dict(type='Polyhistor', bottleneck=32, embed_dim=64,
                  hyper_dim=64, scale=1.0)
model = dict(backbone=dict(polyhistor, module=_base_.pretrained_swin_t))
