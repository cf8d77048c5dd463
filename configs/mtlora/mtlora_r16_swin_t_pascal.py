# MTLoRA (Agiza et al., CVPR 2024), r = 16, on a frozen ImageNet-1k Swin-T,
# PASCAL-Context, 448x448, the official recipe (docs/en/methods/mtlora.md):
# shared LoRA (scale 4, dropout 0.05) on qkv/proj/fc1/fc2 of every block,
# task LoRA (r = 4) on proj/fc1/fc2 of the last block of each stage, stage
# outputs after the patch merging (192/384/768/768 channels), one HRNet-style
# decoder per task. Trainable: 4,953,146 with the decoders (published 4.95 M).
_base_ = ['../full_ft/full_ft_mtl_swin_t_pascal.py']
merged_channels = [192, 384, 768, 768]
model = dict(
    backbone=dict(
        _delete_=True,
        type='MTLoRA',
        module=dict(_base_.swin_t, pretrained=_base_.pretrained,
                    out_after_downsample=True),
        rank=16,
        task_rank=4,
        scale=4.0,
        dropout=0.05),
    tasks=dict(
        semseg=dict(head=dict(in_channels=merged_channels)),
        human_parts=dict(head=dict(in_channels=merged_channels)),
        saliency=dict(head=dict(in_channels=merged_channels)),
        normals=dict(head=dict(in_channels=merged_channels))))
# The final block's shared fc2 LoRA feeds no output (every output is a task
# stream, as in the released code): DDP has to look for unused parameters.
find_unused_parameters = True
