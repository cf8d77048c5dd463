# VMT-Adapter on a frozen DINOv2 ViT-B/14, PASCAL-Context, 448x448: one
# backbone pass for all tasks, task residuals at the last block of each tap
# group (blocks 3/6/9/12), the feature pyramid run per task stream
# (docs/en/methods/vmt_adapter.md, docs/en/backbones.md).
_base_ = ['../_base_/pascal_context_dinov2.py']
vmt = dict(type='VMTAdapter', bottleneck=30, scale=1.0, task_features='last')
model = dict(backbone=dict(vmt, module=_base_.pretrained_dinov2_vit_b))
