# LoRA (r = 4, alpha = 4) on the qkv layer of every block of a frozen DINOv2
# ViT-S/14, PASCAL-Context, 448x448, shared by the four tasks
# (docs/en/methods/lora_dora.md, docs/en/backbones.md).
_base_ = ['../_base_/pascal_context_dinov2.py']
lora = dict(type='LoRA', rank=4, alpha=4.0, dropout=0.0, roles=('qkv', ))
model = dict(backbone=dict(lora, module=_base_.pretrained_dinov2_vit_s))
