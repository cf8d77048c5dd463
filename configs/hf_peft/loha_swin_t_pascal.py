# LoHa (Hyeon-Woo et al., ICLR 2022, https://arxiv.org/abs/2108.06098, as in
# LyCORIS) through HF PEFT (HFPEFTAdapter, docs/en/methods/hf_peft.md; needs
# `pip install peft`) on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448,
# one adapter shared by the four tasks: Delta W = (alpha / r) (B1 A1) * (B2 A2)
# (Hadamard product of two rank-r factorisations, one factor zero at init:
# identity) on the qkv and proj layers of every block, r = 4, alpha = 4, no
# dropout. Trainable: 2,013,440 with the decoders (211,968 LoHa + 1,801,472
# decoders).
_base_ = ['../_base_/pascal_context_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.loha, module=_base_.pretrained_swin_t))
