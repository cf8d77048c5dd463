# IA3 (Liu et al., NeurIPS 2022, https://arxiv.org/abs/2205.05638) through HF
# PEFT (HFPEFTAdapter, docs/en/methods/hf_peft.md; needs `pip install peft`) on
# a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, one adapter shared by
# the four tasks: learned vectors (ones at init: identity) scaling the output
# of every block's qkv layer (Swin's qkv is fused, so q is scaled with k and v)
# and the input of its MLP's second layer (ffn.layers.1, the paper's l_ff).
# Trainable: 1,832,384 with the decoders (30,912 IA3 + 1,801,472 decoders).
_base_ = ['../_base_/pascal_context_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.ia3, module=_base_.pretrained_swin_t))
