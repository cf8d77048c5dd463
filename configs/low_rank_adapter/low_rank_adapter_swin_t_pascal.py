# Low-rank adapters (Mahabadi et al., NeurIPS 2021, arXiv:2106.04647) on a
# frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four
# tasks (docs/en/methods/adapter_compacter.md): Houlsby-placed adapters
# (after the attention and the MLP) whose down and up projections are
# rank-1 products, bottleneck d / 24 (Compacter's, see compacter/), GELU,
# up initialised to zero, every LayerNorm trained. Trainable: 1,855,184
# with the decoders (27,600 in the adapters).
_base_ = ['../_base_/pascal_context_swin_t.py']
adapter = dict(type='LowRankAdapter', rank=1, reduction=24)
model = dict(backbone=dict(adapter, module=_base_.pretrained_swin_t))
