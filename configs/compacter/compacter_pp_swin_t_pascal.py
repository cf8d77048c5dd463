# Compacter++ (Mahabadi et al., NeurIPS 2021, arXiv:2106.04647) on a frozen
# ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four tasks
# (docs/en/methods/adapter_compacter.md): Compacter's PHM adapters (n = 4,
# shared A_i, rank-1 factors, bottleneck d / 24, GELU) after the MLP only,
# every LayerNorm trained. Trainable: 1,841,448 with the decoders (13,864
# in the adapters).
_base_ = ['../_base_/pascal_context_swin_t.py']
compacter = dict(type='CompacterPlusPlus', phm_dim=4, phm_rank=1,
                 reduction=24)
model = dict(backbone=dict(compacter, module=_base_.pretrained_swin_t))
