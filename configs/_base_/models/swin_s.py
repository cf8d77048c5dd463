# Swin-S: Swin-T's settings with 18 blocks in stage 3 and drop-path 0.3.
# Set pretrained='checkpoints/swin_small_patch4_window7_224.pth' (official or
# timm file, see docs/en/pretrained.md).
_base_ = ['./swin_t.py']
swin_s = dict(_base_.swin_t, depths=[2, 2, 18, 2], drop_path_rate=0.3)
# With the ImageNet-1k weights (docs/en/pretrained.md).
pretrained_swin_s = dict(
    swin_s, pretrained='checkpoints/swin_small_patch4_window7_224.pth')
