# The MTLoRA/TADFormer recipe (docs/en/methods/mtlora.md): AdamW,
# lr 5e-4 * batch / 512, 20 warm-up epochs of 300, cosine to
# 5e-6 * batch / 512, grad-clip 5.
# PASCAL-Context train has 4998 images: at batch 32, 157 iterations per epoch.
iters_per_epoch = 157
max_epochs = 300
warmup_epochs = 20
base_lr = 5e-4 * 32 / 512
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.05),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_epochs * iters_per_epoch),
    dict(type='CosineAnnealingLR', eta_min=5e-6 * 32 / 512, by_epoch=False,
         begin=warmup_epochs * iters_per_epoch,
         end=max_epochs * iters_per_epoch),
]
train_cfg = dict(type='IterBasedTrainLoop',
                 max_iters=max_epochs * iters_per_epoch,
                 val_interval=10 * iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    interval=10 * iters_per_epoch, max_keep_ckpts=2,
                    save_best='delta_m', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
