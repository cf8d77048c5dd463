# LoHa through HF PEFT (r = 4, alpha = 4, qkv and proj of every block, shared
# by all tasks; needs `pip install peft`) on a frozen, randomly initialised
# Swin-T, synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable:
# 2,440,026 with the decoders (211,968 LoHa).
_base_ = ['../_base_/synthetic_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.loha, module=_base_.synthetic_swin_t))
