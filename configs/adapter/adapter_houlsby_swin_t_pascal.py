# Houlsby adapters (Houlsby et al., ICML 2019, arXiv:1902.00751) on a frozen
# ImageNet-1k Swin-T, PASCAL-Context, 448x448, shared by the four tasks (one
# backbone pass; docs/en/methods/adapter_compacter.md): in every block an
# adapter h + up(GELU(down(h))) after the attention output and one after
# the MLP output, up initialised to zero, every LayerNorm trained.
# Reduction 1 (bottleneck = block width) is an mmmtl spec: Polyhistor's
# setting is not available, and it is the integer reduction whose count
# comes closest to the published "Adapter" row (11.24 M with decoders).
# Trainable: 10,471,424 with the decoders (8,643,840 in the adapters).
_base_ = ['../_base_/pascal_context_swin_t.py']
adapter = dict(type='BottleneckAdapter', placement='houlsby', reduction=1,
               act='gelu', scale=1.0)
model = dict(backbone=dict(adapter, module=_base_.pretrained_swin_t))
