# VMT-Adapter, Swin-T, PASCAL-Context, evaluated MTLoRA-style: ground truth
# resized (nearest; bicubic for normals) to the 448x448 network input and
# predictions kept at that size. The default configs evaluate at the
# original resolution instead (InvPT / ATRC / MTI-Net protocol); the
# metric's table says which one was used (docs/en/metrics.md).
_base_ = ['./vmt_swin_t_pascal.py']
model = dict(test_cfg=dict(output_size='input'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations', size_mismatch='resize'),
    dict(type='MultiTaskResize', scale=_base_.crop_size, keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
