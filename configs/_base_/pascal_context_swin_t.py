# Swin-T on PASCAL-Context multi-task at 448x448 with the reference recipe
# (batch 32): the four tasks of the published tables, one fusion decoder
# each, Δm against the published single-task full fine-tuning. A leaf adds
# the backbone: `pretrained_swin_t`, or a method wrapping it. task_cfgs
# holds every task the dataset has, for leaves that pick others.
_base_ = [
    './models/multitask_segmentor.py', './models/swin_t.py',
    './datasets/pascal_context_mt.py', './default_runtime.py',
    './schedules/schedule_reference_300e.py'
]
task_names = ('semseg', 'human_parts', 'saliency', 'normals')
task_cfgs = {
    t: dict(head=dict(_base_.fusion_head, out_channels=n),
            **_base_.task_losses[t])
    for t, n in _base_.num_outputs.items()
}
model = dict(tasks={t: task_cfgs[t] for t in task_names})
train_dataloader = dict(batch_size=32)
# Published single-task full fine-tuning, Swin-T (MTLoRA / TADFormer tables;
# docs/en/metrics.md).
val_evaluator = dict(
    type='MultiTaskMetric',
    baselines=dict(semseg=67.21, human_parts=61.93, saliency=62.35,
                   normals=17.97))
test_evaluator = val_evaluator
