# The MTLoRA/TADFormer recipe (docs/en/methods/mtlora.md), in epochs:
# AdamW, 20 warm-up epochs of 300 from lr/1000, cosine to lr/100, grad-clip
# 5, validation and checkpoints every 10 epochs (the best Δm kept). The
# learning rate 5e-4 * 32 / 512 is the references' rule (5e-4 per 512
# images) for a total batch of 32; auto_scale_lr records that batch, so
# enabling it (--auto-scale-lr) rescales the rate to the real total batch.
max_epochs = 300
warmup_epochs = 20
auto_scale_lr = dict(enable=False, base_batch_size=32)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4 * 32 / 512, betas=(0.9, 0.999),
                   eps=1e-8, weight_decay=0.05),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=True, interval=10,
                    max_keep_ckpts=2, save_best='delta_m', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
