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
val_evaluator = dict(type='MultiTaskMetric')
test_evaluator = val_evaluator
