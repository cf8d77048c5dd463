# IA3 through HF PEFT (qkv outputs and MLP hidden units of every block, shared
# by all tasks; needs `pip install peft`) on a frozen, randomly initialised
# Swin-T, synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable:
# 2,258,970 with the decoders (30,912 IA3).
_base_ = ['../_base_/synthetic_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.ia3, module=_base_.synthetic_swin_t))
