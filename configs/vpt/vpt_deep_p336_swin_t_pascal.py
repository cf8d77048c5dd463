# VPT-deep with P = 336 prompts per block: the prompt count at which this
# build reproduces the published PASCAL-Context Swin-T count of VPT-deep
# (3.43 M with decoders, Polyhistor benchmark as quoted by MTLoRA,
# https://arxiv.org/abs/2403.20320): 3,430,400 trainable = 1,483,776 prompts
# + 1,946,624 decoders (docs/en/methods/vpt.md). Otherwise as
# vpt_deep_swin_t_pascal.py.
_base_ = ['./vpt_deep_swin_t_pascal.py']
model = dict(backbone=dict(num_prompts=336))
