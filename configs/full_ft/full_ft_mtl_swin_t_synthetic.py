# Multi-task full fine-tuning of a randomly initialised Swin-T on the
# synthetic dataset (128x128, 5 tasks): minutes on CPU. Window 4 tiles the
# 32/16/8/4 token grids of a 128-pixel input exactly.
_base_ = [
    '../_base_/models/mtl_swin_t.py', '../_base_/models/swin_t.py',
    '../_base_/models/synthetic_tasks.py',
    '../_base_/datasets/synthetic_mt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_synthetic.py'
]
task_names = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')
synthetic_swin_t = dict(_base_.swin_t, window_size=4, drop_path_rate=0.1)
model = dict(
    backbone=dict(_delete_=True, **synthetic_swin_t),
    tasks=dict(_delete_=True,
               **{t: _base_.synthetic_tasks[t] for t in task_names}))
train_dataloader = dict(dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
# Δm references: the single-task full fine-tuning runs of this dataset
# (configs/full_ft/full_ft_single_<task>_swin_t_synthetic.py, 300 iterations,
# final validation), measured on the project's 2-core CPU machine.
val_evaluator = dict(
    type='MultiTaskMetric',
    baselines=dict(semseg=92.62, human_parts=79.58, saliency=93.67,
                   normals=7.04, depth=0.668))
test_evaluator = val_evaluator
