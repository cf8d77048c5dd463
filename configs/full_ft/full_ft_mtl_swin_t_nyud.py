# Multi-task full fine-tuning, Swin-T (ImageNet-1k), NYUD-v2, 448x448:
# semseg (40 classes), depth and normals as in the published NYUD tables.
_base_ = [
    '../_base_/models/mtl_swin_t.py', '../_base_/models/swin_t.py',
    '../_base_/datasets/nyud_mt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_reference_300e.py'
]
task_names = ('semseg', 'depth', 'normals')
pretrained = 'checkpoints/swin_tiny_patch4_window7_224.pth'
# NYUD-v2 train has 795 images: 25 iterations per epoch at batch 32.
iters_per_epoch = 25
model = dict(
    backbone=dict(_delete_=True, **dict(_base_.swin_t, pretrained=pretrained)),
    tasks=dict(
        _delete_=True,
        semseg=dict(_base_.model.tasks.semseg,
                    head=dict(_base_.model.tasks.semseg.head, out_channels=40)),
        depth=dict(head=_base_.model.tasks.saliency.head,
                   loss=dict(type='DepthL1Loss', invalid_value=0.0),
                   loss_weight=1.0),
        normals=_base_.model.tasks.normals))
train_dataloader = dict(batch_size=32, dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=20 * iters_per_epoch),
    dict(type='CosineAnnealingLR', eta_min=5e-6 * 32 / 512, by_epoch=False,
         begin=20 * iters_per_epoch, end=300 * iters_per_epoch),
]
train_cfg = dict(max_iters=300 * iters_per_epoch,
                 val_interval=10 * iters_per_epoch)
default_hooks = dict(checkpoint=dict(interval=10 * iters_per_epoch))
# Published single-task full fine-tuning, Swin-T (as quoted by later papers;
# docs/en/metrics.md).
val_evaluator = dict(
    type='MultiTaskMetric',
    baselines=dict(semseg=42.65, depth=0.60, normals=22.83))
test_evaluator = val_evaluator
