# VPT-deep (Jia et al., ECCV 2022, https://arxiv.org/abs/2203.12119) on a
# frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, merged stage outputs
# as the MTLoRA / TADFormer benchmark (docs/en/methods/vpt.md): P = 50
# prompts (the official demo notebook's VPT commands) of the stage's width
# in every window attention of every block, fresh ones per block, prompt
# dropout 0.1 (the official VTAB runs of VPT-deep), shared by the four
# tasks. 2,167,424 trainable with the decoders (220,800 prompts +
# 1,946,624); published 3.43 M (Polyhistor benchmark, via MTLoRA), which
# vpt_deep_p336_swin_t_pascal.py reproduces.
_base_ = ['../_base_/pascal_context_swin_t.py']
vpt = dict(type='VPT', depth='deep', num_prompts=50, dropout=0.1)
model = dict(backbone=dict(vpt, module=dict(_base_.pretrained_swin_t,
                                            out_after_downsample=True)))
