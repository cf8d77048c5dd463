# VeRA through HF PEFT (r = 64, qkv and proj of every block, shared by all
# tasks; needs `pip install peft`) on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable: 2,247,258
# with the decoders (19,200 VeRA).
_base_ = ['../_base_/synthetic_swin_t.py',
          '../_base_/models/hf_peft_tuners.py']
model = dict(backbone=dict(_base_.vera, module=_base_.synthetic_swin_t))
