# Single-task full fine-tuning baseline (depth), Swin-T, NYUD-v2.
_base_ = ['./full_ft_mtl_swin_t_nyud.py']
task_names = ('depth', )
model = dict(tasks=dict(_delete_=True, depth=_base_.model.tasks.depth))
train_dataloader = dict(dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
