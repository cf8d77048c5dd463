# VMT-Adapter on a frozen ImageNet-1k Swin-T, NYUD-v2, 448x448
# (docs/en/methods/vmt_adapter.md).
_base_ = ['../_base_/nyud_swin_t.py']
vmt = dict(type='VMTAdapter', bottleneck=30, scale=1.0, task_features='last')
model = dict(backbone=dict(vmt, module=_base_.pretrained_swin_t))
