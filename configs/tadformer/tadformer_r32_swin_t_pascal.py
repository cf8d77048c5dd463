# TADFormer r = 32 (4,776,126 trainable with the decoders; published 4.78 M).
_base_ = ['./tadformer_r16_swin_t_pascal.py']
model = dict(backbone=dict(rank=32))
