# MTLoRA r = 64 (8,344,634 trainable with the decoders; published 8.34 M).
_base_ = ['./mtlora_r16_swin_t_pascal.py']
model = dict(backbone=dict(rank=64))
