# NYUD-v2 multi-task (NYUD_MT): semseg (40 classes), depth, normals, edges.
# 448x448 as in MTLoRA / TADFormer. Evaluators are added by the experiment
# configs.
dataset_type = 'NYUDv2MTDataset'
data_root = 'data/NYUDv2'
# None: the tasks the model has heads for (MultiTaskRunner fills them in;
# every task the dataset provides when the dataset is built on its own).
tasks = None
# Output channels of each task's decoder.
num_outputs = dict(semseg=40, depth=1, normals=3, edges=1)
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    # The references' scale-and-rotate (p = 0.5, +-20 deg, 0.75-1.25) and
    # the resize to the crop size, as one warp per map
    # (docs/en/data_pipeline.md).
    dict(type='MultiTaskRandomScaleRotateResize', scale=crop_size,
         keep_ratio=False, prob=0.5, max_rotate=20, scale_range=(0.75, 1.25)),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiTaskResize', scale=crop_size, keep_ratio=False),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=8,
    # About 23 images/s per worker on one core: 8 feed a 0.26 s step at
    # batch 32 (docs/en/data_pipeline.md).
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 tasks=tasks, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 tasks=tasks, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
