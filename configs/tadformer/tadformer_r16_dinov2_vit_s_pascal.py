# TADFormer, r = 16, on a frozen DINOv2 ViT-S/14, PASCAL-Context, 448x448
# (docs/en/methods/tadformer.md, docs/en/backbones.md): shared LoRA, task
# prompts in every block's global attention, TPC and the Dynamic Task Filter
# in the last block of each tap group (blocks 3/6/9/12) on the 32x32 patch
# grid (class and register tokens bypass the filter), stage gates.
_base_ = ['../_base_/pascal_context_dinov2.py',
          '../_base_/models/lora_methods.py']
model = dict(backbone=dict(_base_.tadformer,
                           module=_base_.pretrained_dinov2_vit_s))
