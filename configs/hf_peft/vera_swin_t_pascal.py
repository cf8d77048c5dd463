# VeRA (Kopiczko et al., ICLR 2024, https://arxiv.org/abs/2310.11454) through
# HF PEFT (HFPEFTAdapter, docs/en/methods/hf_peft.md; needs `pip install peft`)
# on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, one adapter shared
# by the four tasks: W x + diag(b) B diag(d) A x on the qkv and proj layers of
# every block, A (r x in) and B (out x r) frozen random projections shared by
# all layers (fixed PRNG key), d (r, init 0.1) and b (out, init 0: identity at
# init) trained per layer, r = 64. Trainable: 1,820,672 with the decoders
# (19,200 VeRA + 1,801,472 decoders).
_base_ = ['../_base_/pascal_context_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.vera, module=_base_.pretrained_swin_t))
