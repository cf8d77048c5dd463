# MTLoRA, r = 16, on a frozen DINOv2 ViT-S/14, PASCAL-Context, 448x448
# (docs/en/methods/mtlora.md, docs/en/backbones.md): shared LoRA on
# qkv/proj/fc1/fc2 of every block, task LoRA on proj/fc1/fc2 of the last
# block of each tap group (blocks 3/6/9/12), one region per tap; patch
# embedding and norms trainable (a ViT has no relative-position tables or
# patch mergings).
_base_ = ['../_base_/pascal_context_dinov2.py',
          '../_base_/models/lora_methods.py']
model = dict(backbone=dict(_base_.mtlora,
                           module=_base_.pretrained_dinov2_vit_s))
