# Single-task full fine-tuning baseline (saliency) on the synthetic dataset; its
# result is the Δm reference of the synthetic configs.
_base_ = ['./full_ft_mtl_swin_t_synthetic.py']
task_names = ('saliency', )
model = dict(tasks=dict(_delete_=True, saliency=_base_.model.tasks.saliency))
train_dataloader = dict(dataset=dict(tasks=task_names))
val_dataloader = dict(dataset=dict(tasks=task_names))
test_dataloader = val_dataloader
