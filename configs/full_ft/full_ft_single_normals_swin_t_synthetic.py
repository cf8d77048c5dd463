# Single-task full fine-tuning baseline (normals) on synthetic data; its
# result is the Δm reference of the synthetic configs.
_base_ = ['./full_ft_mtl_swin_t_synthetic.py']
model = dict(tasks=dict(_delete_=True, normals=_base_.task_cfgs.normals))
