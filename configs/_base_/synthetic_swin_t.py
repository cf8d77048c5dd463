# A randomly initialised Swin-T on the synthetic dataset (128x128, five
# tasks), a few minutes on CPU: the demo and CI experiment. Window 4 tiles
# the 32/16/8/4 token grids of a 128-pixel input exactly. A leaf adds the
# backbone (`synthetic_swin_t`, or a method wrapping it).
_base_ = [
    './models/multitask_segmentor.py', './models/swin_t.py',
    './datasets/synthetic_mt.py', './default_runtime.py',
    './schedules/schedule_synthetic.py'
]
task_names = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')
task_cfgs = {
    t: dict(head=dict(_base_.fusion_head, out_channels=n),
            **_base_.task_losses[t])
    for t, n in _base_.num_outputs.items()
}
model = dict(tasks={t: task_cfgs[t] for t in task_names})
synthetic_swin_t = dict(_base_.swin_t, window_size=4, drop_path_rate=0.1)
# Δm references: the single-task full fine-tuning runs of this dataset
# (configs/full_ft/full_ft_single_<task>_swin_t_synthetic.py, 300 iterations,
# final validation), measured on the project's 2-core CPU machine.
val_evaluator = dict(
    type='MultiTaskMetric',
    baselines=dict(semseg=92.62, human_parts=79.58, saliency=93.67,
                   normals=7.04, depth=0.668))
test_evaluator = val_evaluator
