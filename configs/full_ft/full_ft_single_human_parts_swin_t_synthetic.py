# Single-task full fine-tuning baseline (human_parts) on synthetic data; its
# result is the Δm reference of the synthetic configs.
_base_ = ['./full_ft_mtl_swin_t_synthetic.py']
model = dict(tasks=dict(_delete_=True,
                        human_parts=_base_.task_cfgs.human_parts))
