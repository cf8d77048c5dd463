# Single-task full fine-tuning baseline (human_parts), Swin-T, PASCAL-Context.
_base_ = ['./full_ft_mtl_swin_t_pascal.py']
model = dict(tasks=dict(_delete_=True,
                        human_parts=_base_.task_cfgs.human_parts))
