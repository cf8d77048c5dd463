# Single-task full fine-tuning baseline (saliency) on synthetic data; its
# result is the Δm reference of the synthetic configs.
_base_ = ['./full_ft_mtl_swin_t_synthetic.py']
model = dict(tasks=dict(_delete_=True, saliency=_base_.task_cfgs.saliency))
