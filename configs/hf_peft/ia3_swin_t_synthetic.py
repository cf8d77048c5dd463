# IA3 through HF PEFT (qkv outputs and MLP hidden units of every block, shared
# by all tasks; needs `pip install peft`) on a frozen, randomly initialised
# Swin-T, synthetic dataset (128x128, 5 tasks): minutes on CPU. Trainable:
# 2,258,970 with the decoders (30,912 IA3).
_base_ = ['../_base_/synthetic_swin_t.py']
ia3 = dict(
    type='HFPEFTAdapter',
    peft_config=dict(
        type='IA3Config',
        target_modules=r'.*\.(attn\.w_msa\.qkv|ffn\.layers\.1)',
        feedforward_modules=r'.*\.ffn\.layers\.1'))
model = dict(backbone=dict(ia3, module=_base_.synthetic_swin_t))
