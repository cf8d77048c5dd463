# Swin-B: Swin-S's depths with 128 embedding channels and 4/8/16/32 heads
# (stage outputs 128/256/512/1024, or 256/512/1024/1024 after the patch
# merging). Set pretrained='checkpoints/swin_base_patch4_window7_224.pth'.
_base_ = ['./swin_t.py']
swin_b = dict(_base_.swin_t, embed_dims=128, depths=[2, 2, 18, 2],
              num_heads=[4, 8, 16, 32], drop_path_rate=0.3)
# With the ImageNet-1k weights (docs/en/pretrained.md).
pretrained_swin_b = dict(
    swin_b, pretrained='checkpoints/swin_base_patch4_window7_224.pth')
