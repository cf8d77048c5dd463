# LoRA (Hu et al., ICLR 2022, https://arxiv.org/abs/2106.09685) on a frozen
# ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four tasks
# (docs/en/methods/lora_dora.md): W x + b + (alpha / r) B A x on the qkv
# layer of every block, r = 4, alpha = 4 (scale 1), no dropout, nothing else
# of the backbone trainable (the Polyhistor benchmark's LoRA baseline as
# mmmtl specifies it), one HRNet-style decoder per task over the four stage
# outputs (96/192/384/768 channels). Trainable: 1,872,128 with the decoders
# (70,656 LoRA + 1,801,472 decoders). Merge for deployment with
# model.backbone.merge_adapters().
_base_ = ['../_base_/pascal_context_swin_t.py']
lora = dict(type='LoRA', rank=4, alpha=4.0, dropout=0.0, roles=('qkv', ))
model = dict(backbone=dict(lora, module=_base_.pretrained_swin_t))
