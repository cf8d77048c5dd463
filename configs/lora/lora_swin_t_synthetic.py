# LoRA (r = 4, alpha = 4, qkv of every block, shared by all tasks) on a
# frozen, randomly initialised Swin-T, synthetic dataset (128x128, 5 tasks):
# minutes on CPU. Trainable: 2,298,714 with the five decoders (70,656 LoRA).
_base_ = ['../_base_/synthetic_swin_t.py']
lora = dict(type='LoRA', rank=4, alpha=4.0, dropout=0.0, roles=('qkv', ))
model = dict(backbone=dict(lora, module=_base_.synthetic_swin_t))
