# Swin-T backbone (mmseg SwinTransformer + weight conversion on load).
# Set pretrained='checkpoints/swin_tiny_patch4_window7_224.pth' (official or
# timm file, see docs/en/pretrained.md); out_after_downsample=True gives
# MTLoRA's stage outputs (192/384/768/768 channels, strides 8/16/32/32).
swin_t = dict(
    type='SwinTransformerMTL',
    pretrain_img_size=224,
    embed_dims=96,
    depths=[2, 2, 6, 2],
    num_heads=[3, 6, 12, 24],
    window_size=7,
    mlp_ratio=4,
    qkv_bias=True,
    patch_norm=True,
    drop_rate=0.,
    attn_drop_rate=0.,
    drop_path_rate=0.2,
    out_indices=(0, 1, 2, 3),
    out_after_downsample=False,
    pretrained=None)
# With the ImageNet-1k weights (docs/en/pretrained.md).
pretrained_swin_t = dict(
    swin_t, pretrained='checkpoints/swin_tiny_patch4_window7_224.pth')
