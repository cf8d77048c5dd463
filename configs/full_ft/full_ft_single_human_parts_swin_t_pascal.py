# Single-task full fine-tuning baseline (human_parts), Swin-T, PASCAL-Context.
_base_ = ['./full_ft_mtl_swin_t_pascal.py']
task_names = ('human_parts', )
model = dict(tasks=dict(_delete_=True, human_parts=_base_.model.tasks.human_parts))
train_dataloader = dict(dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
