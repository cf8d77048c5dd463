# Multi-task full fine-tuning, Swin-T (ImageNet-1k), PASCAL-Context, 448x448,
# the four tasks of the published tables (the MTLoRA/TADFormer recipe,
# batch 32: docs/en/methods/mtlora.md).
_base_ = [
    '../_base_/models/mtl_swin_t.py', '../_base_/models/swin_t.py',
    '../_base_/datasets/pascal_context_mt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_reference_300e.py'
]
task_names = ('semseg', 'human_parts', 'saliency', 'normals')
pretrained = 'checkpoints/swin_tiny_patch4_window7_224.pth'
model = dict(
    backbone=dict(_delete_=True, **dict(_base_.swin_t, pretrained=pretrained)),
    tasks=dict(_delete_=True,
               **{t: _base_.model.tasks[t] for t in task_names}))
train_dataloader = dict(batch_size=32, dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
# Published single-task full fine-tuning, Swin-T (MTLoRA / TADFormer tables;
# docs/en/metrics.md).
val_evaluator = dict(
    type='MultiTaskMetric',
    baselines=dict(semseg=67.21, human_parts=61.93, saliency=62.35,
                   normals=17.97))
test_evaluator = val_evaluator
