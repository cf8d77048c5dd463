# OFT (Qiu et al., NeurIPS 2023, https://arxiv.org/abs/2306.07280) through HF
# PEFT (HFPEFTAdapter, docs/en/methods/hf_peft.md; needs `pip install peft`) on
# a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, one adapter shared by
# the four tasks: W' = W R on the qkv and proj layers of every block, R
# block-diagonal orthogonal (Cayley parametrisation, blocks of 32 input
# channels; R = I at init: identity), no dropout. Trainable: 1,938,368 with the
# decoders (136,896 OFT + 1,801,472 decoders).
_base_ = ['../_base_/pascal_context_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.oft, module=_base_.pretrained_swin_t))
