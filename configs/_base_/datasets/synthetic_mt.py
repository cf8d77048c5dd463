# The synthetic multi-task dataset (generated on first use into the user
# cache dir: data_root=None). Small and fast: the demo and CI dataset.
dataset_type = 'SyntheticMultiTaskDataset'
data_root = None
tasks = None  # None: semseg, human_parts, saliency, normals, edges, depth
img_size = 128
synthetic_params = dict(num_train=64, num_val=32, size=img_size, seed=0)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 tasks=tasks, pipeline=train_pipeline, **synthetic_params))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 tasks=tasks, test_mode=True, pipeline=test_pipeline,
                 **synthetic_params))
test_dataloader = val_dataloader
