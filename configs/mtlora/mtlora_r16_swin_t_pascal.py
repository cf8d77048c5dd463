# MTLoRA (Agiza et al., CVPR 2024), r = 16, on a frozen ImageNet-1k Swin-T,
# PASCAL-Context, 448x448, the official recipe (docs/en/methods/mtlora.md):
# shared LoRA (scale 4, dropout 0.05) on qkv/proj/fc1/fc2 of every block,
# task LoRA (r = 4) on proj/fc1/fc2 of the last block of each stage, stage
# outputs after the patch merging (192/384/768/768 channels), one HRNet-style
# decoder per task. Trainable: 4,953,146 with the decoders (published 4.95 M).
_base_ = ['../full_ft/full_ft_mtl_swin_t_pascal.py',
          '../_base_/models/lora_methods.py']
model = dict(
    backbone=dict(_base_.mtlora, _delete_=True,
                  module=dict(_base_.swin_t, pretrained=_base_.pretrained,
                              out_after_downsample=True)),
    tasks={t: dict(head=dict(in_channels=_base_.merged_channels))
           for t in _base_.task_names})
