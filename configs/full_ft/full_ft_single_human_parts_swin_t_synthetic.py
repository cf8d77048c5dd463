# Single-task full fine-tuning baseline (human_parts) on the synthetic dataset; its
# result is the Δm reference of the synthetic configs.
_base_ = ['./full_ft_mtl_swin_t_synthetic.py']
task_names = ('human_parts', )
model = dict(tasks=dict(_delete_=True, human_parts=_base_.model.tasks.human_parts))
train_dataloader = dict(dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
