# VeRA through HF PEFT (r = 64, qkv and proj of every block, shared by all
# tasks; needs `pip install peft`) on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable: 2,247,258
# with the decoders (19,200 VeRA).
_base_ = ['../_base_/synthetic_swin_t.py']
vera = dict(
    type='HFPEFTAdapter',
    peft_config=dict(type='VeraConfig', r=64, d_initial=0.1,
                     vera_dropout=0.0,
                     target_modules=r'.*\.attn\.w_msa\.(qkv|proj)'))
model = dict(backbone=dict(vera, module=_base_.synthetic_swin_t))
