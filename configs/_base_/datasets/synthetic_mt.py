# The synthetic multi-task dataset (generated on first use into the user
# cache dir: data_root=None). Small and fast: the demo and CI dataset.
dataset_type = 'SyntheticMultiTaskDataset'
data_root = None
# None: the tasks the model has heads for (MultiTaskRunner fills them in;
# all six tasks when the dataset is built on its own).
tasks = None
# Output channels of each task's decoder.
num_outputs = dict(semseg=6, human_parts=7, saliency=1, normals=3, edges=1,
                   depth=1)
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
    # Iteration-based schedules: an infinite sampler (a finite one makes
    # mmengine pause 2 s at every pass over the 64 images).
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
