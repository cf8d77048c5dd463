# Swin-T on NYUD-v2 multi-task at 448x448 with the reference recipe (batch
# 32): semseg (40 classes), depth and normals as in the published tables,
# Δm against the single-task full fine-tuning quoted by later papers
# (docs/en/metrics.md). A leaf adds the backbone (`pretrained_swin_t`, or a
# method wrapping it); task_cfgs also holds edges.
_base_ = [
    './models/multitask_segmentor.py', './models/swin_t.py',
    './datasets/nyud_mt.py', './default_runtime.py',
    './schedules/schedule_reference_300e.py'
]
task_names = ('semseg', 'depth', 'normals')
task_cfgs = {
    t: dict(head=dict(_base_.fusion_head, out_channels=n),
            **_base_.task_losses[t])
    for t, n in _base_.num_outputs.items()
}
model = dict(tasks={t: task_cfgs[t] for t in task_names})
train_dataloader = dict(batch_size=32)
val_evaluator = dict(
    type='MultiTaskMetric',
    baselines=dict(semseg=42.65, depth=0.60, normals=22.83))
test_evaluator = val_evaluator
