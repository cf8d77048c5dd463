# Single-task full fine-tuning baseline (saliency), Swin-T, PASCAL-Context.
_base_ = ['./full_ft_mtl_swin_t_pascal.py']
model = dict(tasks=dict(_delete_=True, saliency=_base_.task_cfgs.saliency))
