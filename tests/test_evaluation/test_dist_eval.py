"""MultiTaskMetric over 2 gloo processes equals 1 process exactly.

Five images over two ranks: mmengine's ``DefaultSampler`` pads rank 1 with
image 0 again, and the gathered results must be cut back to the dataset
size, so that the padded copy is not counted twice.
"""
import json
import os
import socket

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

from mmmtl.evaluation import MultiTaskMetric
from mmmtl.structures import MultiTaskDataSample

NUM_IMAGES = 5
BATCH = 2
META = dict(tasks=('semseg', 'human_parts', 'saliency', 'normals', 'depth'),
            num_classes=dict(semseg=4, human_parts=3))


def make_sample(index: int, size: int = 8) -> dict:
    """Image ``index``'s random ground truth and prediction, (C, H, W)
    maps of every task (the same for the same index on any rank)."""
    rng = np.random.default_rng(index)

    def labels(num: int, channels: int = 1) -> torch.Tensor:
        return torch.from_numpy(rng.integers(0, num, (channels, size, size)))

    def values(channels: int) -> torch.Tensor:
        return torch.from_numpy(rng.random((channels, size, size),
                                           dtype=np.float32))

    def unit(array: torch.Tensor) -> torch.Tensor:
        return array / array.norm(dim=0, keepdim=True)

    sample = MultiTaskDataSample(metainfo=dict(ori_shape=(size, size)))
    sample.gt_maps = PixelData(
        semseg=labels(4), human_parts=labels(3), saliency=labels(2),
        normals=unit(values(3) - 0.5), depth=values(1) + 0.5)
    sample.pred_maps = PixelData(
        semseg=labels(4), human_parts=labels(3), saliency=values(1),
        normals=unit(values(3) - 0.5), depth=values(1) + 0.5)
    return sample.to_dict()


def evaluate(indices: list, size: int) -> dict:
    """Process ``indices`` in batches on this rank; gather ``size``."""
    evaluator = Evaluator(MultiTaskMetric())
    evaluator.dataset_meta = META
    for start in range(0, len(indices), BATCH):
        evaluator.process([make_sample(i)
                           for i in indices[start:start + BATCH]], {})
    return evaluator.evaluate(size)


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        indices = list(DefaultSampler(list(range(NUM_IMAGES)),
                                      shuffle=False))
        metrics = evaluate(indices, NUM_IMAGES)
        with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(dict(indices=indices, metrics=metrics), f)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_metrics_equal_one_process_metrics(tmp_path):
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=2)
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text())
             for r in range(2)]
    assert ranks[0]['indices'] == [0, 2, 4]
    assert ranks[1]['indices'] == [1, 3, 0]  # padded with image 0
    single = evaluate(list(range(NUM_IMAGES)), NUM_IMAGES)
    assert {k.split('/')[0] for k in single} == set(META['tasks'])
    for rank in ranks:
        assert rank['metrics'] == single  # exact, on every rank
    # counting the padded image twice would change the metrics
    padded = evaluate(list(range(NUM_IMAGES)) + [0], NUM_IMAGES + 1)
    assert all(padded[k] != single[k]
               for k in ('semseg/mIoU', 'normals/mean', 'depth/rmse'))
