# Swin-B backbone (mmseg SwinTransformer + weight conversion on load).
# Set pretrained='checkpoints/swin_base_patch4_window7_224.pth' (official or
# timm file, see docs/en/pretrained.md); out_after_downsample=True gives
# MTLoRA's stage outputs (256/512/1024/1024 channels, strides 8/16/32/32).
swin_b = dict(
    type='SwinTransformerMTL',
    pretrain_img_size=224,
    embed_dims=128,
    depths=[2, 2, 18, 2],
    num_heads=[4, 8, 16, 32],
    window_size=7,
    mlp_ratio=4,
    qkv_bias=True,
    patch_norm=True,
    drop_rate=0.,
    attn_drop_rate=0.,
    drop_path_rate=0.3,
    out_indices=(0, 1, 2, 3),
    out_after_downsample=False,
    pretrained=None)
