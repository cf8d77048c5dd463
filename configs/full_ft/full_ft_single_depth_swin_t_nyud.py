# Single-task full fine-tuning baseline (depth), Swin-T, NYUD-v2.
_base_ = ['./full_ft_mtl_swin_t_nyud.py']
model = dict(tasks=dict(_delete_=True, depth=_base_.task_cfgs.depth))
