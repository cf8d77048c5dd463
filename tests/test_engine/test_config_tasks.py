"""The task list is written once: datasets follow the model's tasks, and
the reference schedule is in epochs with the batch its LR was set for."""
from mmengine.config import Config

from mmmtl.engine import fill_dataset_tasks
from repo_files import REPO

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _cfg(name: str) -> Config:
    return Config.fromfile(str(REPO / 'configs' / name))


def test_datasets_get_the_models_tasks():
    cfg = _cfg('vmt/vmt_swin_t_pascal.py')
    assert all(cfg[k].dataset.tasks is None for k in LOADERS)
    fill_dataset_tasks(cfg)
    assert all(cfg[k].dataset.tasks ==
               ('semseg', 'human_parts', 'saliency', 'normals')
               for k in LOADERS)


def test_task_names_pick_the_datasets_tasks_and_explicit_ones_stay():
    cfg = _cfg('vmt/vmt_swin_t_nyud.py')
    cfg.model.task_names = ['depth']
    cfg.val_dataloader.dataset.tasks = ('semseg', 'depth')
    fill_dataset_tasks(cfg)
    assert cfg.train_dataloader.dataset.tasks == ('depth', )
    assert cfg.val_dataloader.dataset.tasks == ('semseg', 'depth')


def test_reference_schedule_is_in_epochs_with_its_batch():
    cfg = _cfg('mtlora/mtlora_r16_swin_t_pascal.py')
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.optim_wrapper.optimizer.lr == 5e-4 * 32 / 512
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end) == (20, 20, 300)
    assert all(s.by_epoch and s.convert_to_iter_based
               for s in cfg.param_scheduler)
