# Compacter (Mahabadi et al., NeurIPS 2021, arXiv:2106.04647) on a frozen
# ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four tasks
# (docs/en/methods/adapter_compacter.md): Houlsby-placed adapters (after
# the attention and the MLP) whose projections are PHM layers
# W = sum_i A_i ⊗ s_i t_i^T, n = 4, A_i shared by every layer, rank-1
# per-layer factors, GELU, every LayerNorm trained. Bottleneck d / 24
# (4 / 8 / 16 / 32; the paper's reduction 32 gives 3 channels at width 96,
# which n = 4 does not divide). Trainable: 1,855,248 with the decoders
# (27,664 in the adapters; published 2.87 M with the paper's decoders).
_base_ = ['../_base_/pascal_context_swin_t.py']
compacter = dict(type='Compacter', phm_dim=4, phm_rank=1, reduction=24)
model = dict(backbone=dict(compacter, module=_base_.pretrained_swin_t))
