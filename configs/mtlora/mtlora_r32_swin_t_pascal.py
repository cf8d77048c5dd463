# MTLoRA r = 32 (6,083,642 trainable with the decoders; published 6.08 M).
_base_ = ['./mtlora_r16_swin_t_pascal.py']
model = dict(backbone=dict(rank=32))
