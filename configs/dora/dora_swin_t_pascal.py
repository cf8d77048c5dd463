# DoRA (Liu et al., ICML 2024, https://arxiv.org/abs/2402.09353) on a frozen
# ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four tasks
# (docs/en/methods/lora_dora.md): W' = m * (W + s B A) / ||W + s B A||_c on
# the qkv layer of every block, r = 4, alpha = 4 (s = 1), no dropout, the
# row norm detached in backprop (paper), m initialised to ||W||_c; the same
# sites as configs/lora/lora_swin_t_pascal.py plus one magnitude per output
# unit. Trainable: 1,885,376 with the decoders (70,656 LoRA + 13,248
# magnitudes + 1,801,472 decoders). Merge with
# model.backbone.merge_adapters().
_base_ = ['../_base_/pascal_context_swin_t.py']
dora = dict(type='DoRA', rank=4, alpha=4.0, dropout=0.0, roles=('qkv', ),
            detach_norm=True)
model = dict(backbone=dict(dora, module=_base_.pretrained_swin_t))
