# Task heads for the synthetic multi-task dataset (6 semseg classes, 7 parts
# classes), over Swin-T's stage channels. Loss weights follow the PASCAL
# references (MTLoRA / TADFormer code) and NYUD's depth weight 1.
synthetic_head = dict(type='MultiScaleFusionHead',
                      in_channels=[96, 192, 384, 768],
                      channels=[18, 36, 72, 144],
                      norm_cfg=dict(type='BN', requires_grad=True))
synthetic_tasks = dict(
    semseg=dict(head=dict(synthetic_head, out_channels=6),
                loss=dict(type='PixelCrossEntropyLoss', ignore_index=255),
                loss_weight=1.0),
    human_parts=dict(head=dict(synthetic_head, out_channels=7),
                     loss=dict(type='PixelCrossEntropyLoss', ignore_index=255),
                     loss_weight=2.0),
    saliency=dict(head=dict(synthetic_head, out_channels=1),
                  loss=dict(type='BalancedBCELoss', ignore_index=255),
                  loss_weight=5.0),
    normals=dict(head=dict(synthetic_head, out_channels=3),
                 loss=dict(type='NormalsL1Loss', normalize=True),
                 loss_weight=10.0),
    depth=dict(head=dict(synthetic_head, out_channels=1),
               loss=dict(type='DepthL1Loss', invalid_value=0.0),
               loss_weight=1.0),
)
