# VMT-Adapter on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448: one
# backbone pass for all tasks, task-specific features at the last block of
# each stage (docs/en/methods/vmt_adapter.md).
_base_ = ['../_base_/pascal_context_swin_t.py']
vmt = dict(type='VMTAdapter', bottleneck=30, scale=1.0, task_features='last')
model = dict(backbone=dict(vmt, module=_base_.pretrained_swin_t))
