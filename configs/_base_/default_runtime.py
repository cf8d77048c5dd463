default_scope = 'mmmtl'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
# No fixed name: each Runner gets its own visualizer (and log directory),
# also when several runs share one process.
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
# Checkpoints are unpickled weights only and checked against the model
# (mmmtl.engine.MultiTaskRunner). unsafe_load = True (--unsafe-load) fully
# unpickles them instead, which RUNS CODE from the file: trusted files only.
runner_type = 'MultiTaskRunner'
unsafe_load = False
# WorkDirLockHook: one training per work dir (<work_dir>/.lock);
# NonFiniteLossHook: stop at a NaN/inf loss, never save NaN/inf weights.
custom_hooks = [dict(type='CheckTasksHook'), dict(type='ParamReportHook'),
                dict(type='WorkDirLockHook'), dict(type='NonFiniteLossHook')]
