# The multi-task segmentor without backbone and tasks (an experiment base
# adds both): ImageNet normalisation, one MTLoRA/TADFormer-style HRNet fusion
# decoder per task (its in_channels come from the backbone), and the loss and
# weight of every task as the references use them (MTLoRA / TADFormer code:
# semseg 1, human_parts 2, saliency 5, normals 10, edges 50; depth 1).
fusion_head = dict(type='MultiScaleFusionHead', channels=[18, 36, 72, 144],
                   norm_cfg=dict(type='BN', requires_grad=True))
task_losses = dict(
    semseg=dict(loss=dict(type='PixelCrossEntropyLoss', ignore_index=255),
                loss_weight=1.0),
    human_parts=dict(
        loss=dict(type='PixelCrossEntropyLoss', ignore_index=255),
        loss_weight=2.0),
    saliency=dict(loss=dict(type='BalancedBCELoss', ignore_index=255),
                  loss_weight=5.0),
    normals=dict(loss=dict(type='NormalsL1Loss', normalize=True),
                 loss_weight=10.0),
    edges=dict(loss=dict(type='WeightedBCELoss', pos_weight=0.95,
                         ignore_index=255),
               loss_weight=50.0),
    depth=dict(loss=dict(type='DepthL1Loss', invalid_value=0.0),
               loss_weight=1.0),
)
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size_divisor=32),
    neck=None,
    train_cfg=dict(),
    test_cfg=dict(output_size='original'))
