# MTLoRA (Agiza et al., CVPR 2024), r = 16, on a frozen ImageNet-1k Swin-T,
# PASCAL-Context, 448x448, the official recipe (docs/en/methods/mtlora.md):
# shared LoRA (scale 4, dropout 0.05) on qkv/proj/fc1/fc2 of every block,
# task LoRA (r = 4) on proj/fc1/fc2 of the last block of each stage, stage
# outputs after the patch merging (192/384/768/768 channels), one HRNet-style
# decoder per task. Trainable: 4,953,146 with the decoders (published 4.95 M).
_base_ = ['../_base_/pascal_context_swin_t.py',
          '../_base_/models/lora_methods.py']
model = dict(backbone=dict(_base_.mtlora, module=dict(
    _base_.pretrained_swin_t, out_after_downsample=True)))
