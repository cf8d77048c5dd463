# VPT-shallow (Jia et al., ECCV 2022, https://arxiv.org/abs/2203.12119) on a
# frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, merged stage outputs
# as the MTLoRA / TADFormer benchmark (docs/en/methods/vpt.md): P = 50 prompts
# (96 channels) entering the first block and carried through every block,
# lifted at each patch merging by its frozen norm and reduction (official
# code), no prompt dropout (official demo notebook), shared by the four tasks.
# 1,951,424 trainable with the decoders (4,800 prompts + 1,946,624);
# published 2.57 M (Polyhistor benchmark, via MTLoRA), which no prompt count
# of this placement reproduces (see the docs).
_base_ = ['../_base_/pascal_context_swin_t.py']
vpt = dict(type='VPT', depth='shallow', num_prompts=50, dropout=0.0,
           lift_at_merging=True)
model = dict(backbone=dict(vpt, module=dict(_base_.pretrained_swin_t,
                                            out_after_downsample=True)))
