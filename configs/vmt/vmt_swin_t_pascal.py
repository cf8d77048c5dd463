# VMT-Adapter on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448: one backbone
# pass for all tasks, task-specific features at the last block of each stage
# (docs/en/methods/vmt_adapter.md). Recipe and Δm baselines as the full
# fine-tuning config it inherits.
_base_ = ['../full_ft/full_ft_mtl_swin_t_pascal.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VMTAdapter',
        module=dict(_base_.swin_t, pretrained=_base_.pretrained),
        bottleneck=30,
        scale=1.0,
        task_features='last'))
