# OFT through HF PEFT (blocks of 32, qkv and proj of every block, shared by all
# tasks; needs `pip install peft`) on a frozen, randomly initialised Swin-T,
# synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable: 2,364,954
# with the decoders (136,896 OFT).
_base_ = ['../_base_/synthetic_swin_t.py']
oft = dict(
    type='HFPEFTAdapter',
    peft_config=dict(type='OFTConfig', r=0, oft_block_size=32,
                     module_dropout=0.0,
                     target_modules=r'.*\.attn\.w_msa\.(qkv|proj)'))
model = dict(backbone=dict(oft, module=_base_.synthetic_swin_t))
