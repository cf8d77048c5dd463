# Single-task full fine-tuning baseline (semseg), Swin-T, NYUD-v2.
_base_ = ['./full_ft_mtl_swin_t_nyud.py']
task_names = ('semseg', )
model = dict(tasks=dict(_delete_=True, semseg=_base_.model.tasks.semseg))
train_dataloader = dict(dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
