# TADFormer, r = 16, on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448,
# the official recipe (docs/en/methods/tadformer.md): MTLoRA-style shared
# LoRA, task prompts in every window attention, TPC and the Dynamic Task
# Filter in the last block of each stage, stage gates; patch-merging
# reductions frozen. 3,557,502 trainable with the decoders (published
# 3.56 M).
_base_ = ['../full_ft/full_ft_mtl_swin_t_pascal.py',
          '../_base_/models/lora_methods.py']
model = dict(
    backbone=dict(_base_.tadformer, _delete_=True,
                  module=dict(_base_.swin_t, pretrained=_base_.pretrained,
                              out_after_downsample=True)),
    tasks={t: dict(head=dict(in_channels=_base_.merged_channels))
           for t in _base_.task_names})
