# Multi-task Swin-T with one MTLoRA/TADFormer-style HRNet fusion decoder per
# task (PASCAL-Context tasks); loss weights of the references: semseg 1,
# human_parts 2, saliency 5, normals 10, edges 50. Full fine-tuning unless an
# adapter wraps the backbone (backbone=dict(type='<Adapter>', module=...)).
# For pretrained weights use type='SwinTransformerMTL' with pretrained=PATH
# (same arguments; see configs/_base_/models/swin_t.py).
norm_cfg = dict(type='BN', requires_grad=True)
swin_t_channels = [96, 192, 384, 768]
fusion_head = dict(type='MultiScaleFusionHead', in_channels=swin_t_channels,
                   channels=[18, 36, 72, 144], norm_cfg=norm_cfg)
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size_divisor=32),
    backbone=dict(
        type='SwinTransformer',
        pretrain_img_size=224,
        embed_dims=96,
        patch_size=4,
        window_size=7,
        mlp_ratio=4,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.2,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN')),
    neck=None,
    tasks=dict(
        semseg=dict(
            head=dict(fusion_head, out_channels=21),
            loss=dict(type='PixelCrossEntropyLoss', ignore_index=255),
            loss_weight=1.0),
        human_parts=dict(
            head=dict(fusion_head, out_channels=7),
            loss=dict(type='PixelCrossEntropyLoss', ignore_index=255),
            loss_weight=2.0),
        saliency=dict(
            head=dict(fusion_head, out_channels=1),
            loss=dict(type='BalancedBCELoss', ignore_index=255),
            loss_weight=5.0),
        normals=dict(
            head=dict(fusion_head, out_channels=3),
            loss=dict(type='NormalsL1Loss', normalize=True),
            loss_weight=10.0),
        edges=dict(
            head=dict(fusion_head, out_channels=1),
            loss=dict(type='WeightedBCELoss', pos_weight=0.95,
                      ignore_index=255),
            loss_weight=50.0)),
    train_cfg=dict(),
    test_cfg=dict(output_size='original'))
