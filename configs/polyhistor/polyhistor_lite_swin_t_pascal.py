# Polyhistor-Lite: one template size (96) for all stages, scaled up to each
# layer by the layer-wise scaling kernels (2,210,156 trainable with the
# decoders).
_base_ = ['./polyhistor_swin_t_pascal.py']
model = dict(backbone=dict(type='PolyhistorLite'))
