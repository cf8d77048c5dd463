# OFT through HF PEFT (blocks of 32, qkv and proj of every block, shared by all
# tasks; needs `pip install peft`) on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable: 2,364,954
# with the decoders (136,896 OFT).
_base_ = ['../_base_/synthetic_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.oft, module=_base_.synthetic_swin_t))
