# TADFormer r = 16 on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU. Only the prompt norms it uses.
_base_ = ['../full_ft/full_ft_mtl_swin_t_synthetic.py']
merged_channels = [192, 384, 768, 768]
model = dict(
    backbone=dict(
        _delete_=True,
        type='TADFormer',
        module=dict(_base_.synthetic_swin_t, out_after_downsample=True),
        rank=16,
        scale=4.0,
        dropout=0.05,
        task_filter='dynamic'),
    tasks={task: dict(head=dict(in_channels=merged_channels))
           for task in _base_.task_names})
find_unused_parameters = True  # the final block's shared fc2 LoRA
