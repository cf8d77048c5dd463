# Scaled parallel adapters (He et al., ICLR 2022, arXiv:2110.04366) on a
# frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four
# tasks (docs/en/methods/adapter_compacter.md): in every block
# MLP(u) + 4 * up(ReLU(down(u))) with u the MLP input, bottleneck d / 2,
# up initialised to zero, nothing else of the backbone trained (the
# settings of He et al.'s scaled parallel adapter; no published
# PASCAL-Context figure). Trainable: 3,964,640 with the decoders
# (2,163,168 in the adapters).
_base_ = ['../_base_/pascal_context_swin_t.py']
adapter = dict(type='BottleneckAdapter', placement='parallel', reduction=2,
               act='relu', scale=4.0)
model = dict(backbone=dict(adapter, module=_base_.pretrained_swin_t))
