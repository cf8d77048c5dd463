# MTLoRA and TADFormer backbone wrappers with their published settings
# (docs/en/methods/mtlora.md, tadformer.md); a leaf adds the wrapped Swin
# with merged stage outputs (out_after_downsample=True).
mtlora = dict(type='MTLoRA', rank=16, task_rank=4, scale=4.0, dropout=0.05)
# released_prompt_norms: the released code's unused prompt norms, so that
# counts equal the published ones.
tadformer = dict(type='TADFormer', rank=16, scale=4.0, dropout=0.05,
                 task_filter='dynamic', skip_layout='released',
                 released_prompt_norms=True)
# Every output of both is a task stream: the final block's shared fc2 LoRA
# (and TADFormer's unused prompt norms) get no gradient, so DDP has to look
# for unused parameters.
find_unused_parameters = True
