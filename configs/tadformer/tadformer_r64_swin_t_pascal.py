# TADFormer r = 64 (7,379,262 trainable with the decoders; published 7.38 M).
_base_ = ['./tadformer_r16_swin_t_pascal.py']
model = dict(backbone=dict(rank=64))
