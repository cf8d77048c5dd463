# HF PEFT tuners through HFPEFTAdapter on mmseg Swin (docs/en/methods/
# hf_peft.md; needs `pip install peft`), one adapter shared by all tasks; a
# leaf adds the wrapped backbone. Targets are mmseg Swin module names.
SWIN_ATTENTION = r'.*\.attn\.w_msa\.(qkv|proj)'
vera = dict(
    type='HFPEFTAdapter',
    peft_config=dict(type='VeraConfig', r=64, d_initial=0.1,
                     vera_dropout=0.0, target_modules=SWIN_ATTENTION))
loha = dict(
    type='HFPEFTAdapter',
    peft_config=dict(type='LoHaConfig', r=4, alpha=4, rank_dropout=0.0,
                     module_dropout=0.0, target_modules=SWIN_ATTENTION))
oft = dict(
    type='HFPEFTAdapter',
    peft_config=dict(type='OFTConfig', r=0, oft_block_size=32,
                     module_dropout=0.0, target_modules=SWIN_ATTENTION))
# IA3: qkv outputs and the input of the MLP's second layer (the paper's l_ff).
ia3 = dict(
    type='HFPEFTAdapter',
    peft_config=dict(
        type='IA3Config',
        target_modules=r'.*\.(attn\.w_msa\.qkv|ffn\.layers\.1)',
        feedforward_modules=r'.*\.ffn\.layers\.1'))
