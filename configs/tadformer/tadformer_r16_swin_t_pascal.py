# TADFormer, r = 16, on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448,
# the official recipe (docs/en/methods/tadformer.md): MTLoRA-style shared
# LoRA, task prompts in every window attention, TPC and the Dynamic Task
# Filter in the last block of each stage, stage gates; patch-merging
# reductions frozen. 3,557,502 trainable with the decoders (published
# 3.56 M).
_base_ = ['../_base_/pascal_context_swin_t.py',
          '../_base_/models/lora_methods.py']
model = dict(backbone=dict(_base_.tadformer, module=dict(
    _base_.pretrained_swin_t, out_after_downsample=True)))
