# MTLoRA r = 64 on a frozen ImageNet-1k Swin-T, NYUD-v2 (semseg, depth,
# normals), 448x448, the NYUD recipe of the full fine-tuning config it
# inherits; decoders over the merged stage outputs (192/384/768/768).
_base_ = ['../full_ft/full_ft_mtl_swin_t_nyud.py']
merged_channels = [192, 384, 768, 768]
model = dict(
    backbone=dict(
        _delete_=True,
        type='MTLoRA',
        module=dict(_base_.swin_t, pretrained=_base_.pretrained,
                    out_after_downsample=True),
        rank=64,
        task_rank=4,
        scale=4.0,
        dropout=0.05),
    tasks=dict(
        semseg=dict(head=dict(in_channels=merged_channels)),
        depth=dict(head=dict(in_channels=merged_channels)),
        normals=dict(head=dict(in_channels=merged_channels))))
find_unused_parameters = True  # the final block's shared fc2 LoRA
