# TADFormer, r = 16, on a frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448,
# the official recipe (docs/en/methods/tadformer.md): MTLoRA-style shared
# LoRA, task prompts in every window attention, TPC and the Dynamic Task
# Filter in the last block of each stage, stage gates; patch-merging
# reductions frozen. released_prompt_norms builds the released code's unused
# prompt norms too, so the count is the published one: 3,557,502 trainable
# with the decoders (published 3.56 M).
_base_ = ['../full_ft/full_ft_mtl_swin_t_pascal.py']
merged_channels = [192, 384, 768, 768]
model = dict(
    backbone=dict(
        _delete_=True,
        type='TADFormer',
        module=dict(_base_.swin_t, pretrained=_base_.pretrained,
                    out_after_downsample=True),
        rank=16,
        scale=4.0,
        dropout=0.05,
        task_filter='dynamic',
        skip_layout='released',
        released_prompt_norms=True),
    tasks=dict(
        semseg=dict(head=dict(in_channels=merged_channels)),
        human_parts=dict(head=dict(in_channels=merged_channels)),
        saliency=dict(head=dict(in_channels=merged_channels)),
        normals=dict(head=dict(in_channels=merged_channels))))
# The unused prompt norms and the final block's shared fc2 LoRA get no
# gradient: DDP has to look for unused parameters.
find_unused_parameters = True
