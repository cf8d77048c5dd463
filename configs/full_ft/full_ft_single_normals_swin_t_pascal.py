# Single-task full fine-tuning baseline (normals), Swin-T, PASCAL-Context.
_base_ = ['./full_ft_mtl_swin_t_pascal.py']
model = dict(tasks=dict(_delete_=True, normals=_base_.task_cfgs.normals))
