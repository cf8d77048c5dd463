# TADFormer r = 16 on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU. Only the prompt norms it uses.
_base_ = ['../full_ft/full_ft_mtl_swin_t_synthetic.py',
          '../_base_/models/lora_methods.py']
model = dict(
    backbone=dict(_base_.tadformer, _delete_=True,
                  released_prompt_norms=False,
                  module=dict(_base_.synthetic_swin_t,
                              out_after_downsample=True)),
    tasks={t: dict(head=dict(in_channels=_base_.merged_channels))
           for t in _base_.task_names})
