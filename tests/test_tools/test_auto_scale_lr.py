"""--auto-scale-lr on the reference recipe follows the references' rule.

The MTLoRA PASCAL config sets lr = 5e-4 * 32 / 512 for a total batch of 32;
with --auto-scale-lr, w processes of b images each must train at exactly
5e-4 * w * b / 512, and the log states that rate. ``scale_lr`` of
``MultiTaskRunner`` (mmengine's, plus the log line) runs on a bare runner
whose world size is faked, with a small optimizer built from the config.
"""
import pytest
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmmtl.engine import MultiTaskRunner
from repo_files import REPO, load_module

CONFIG = str(REPO / 'configs/mtlora/mtlora_r16_swin_t_pascal.py')


class RecordingLogger:
    """Keeps the messages ``scale_lr`` logs."""

    def __init__(self) -> None:
        self.messages = []

    def info(self, message: str) -> None:
        self.messages.append(message)


def scaled_run(tmp_path, world_size: int, batch: int):
    """train.py's config with --auto-scale-lr and batch ``batch`` per
    process, scaled as ``Runner.train`` does at world size
    ``world_size``: (learning rates, logged messages)."""
    train = load_module('tools/train.py')
    args = train.parse_args([
        CONFIG, '--auto-scale-lr', '--work-dir', str(tmp_path),
        '--cfg-options', f'train_dataloader.batch_size={batch}'])
    cfg = train.build_config(args)
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=32)
    runner = MultiTaskRunner.__new__(MultiTaskRunner)
    runner._world_size = world_size
    runner._train_dataloader = cfg.train_dataloader
    runner.param_schedulers = cfg.param_scheduler
    runner.logger = RecordingLogger()
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    runner.scale_lr(optim_wrapper, cfg.auto_scale_lr)
    lrs = [g['lr'] for g in optim_wrapper.optimizer.param_groups]
    return lrs, runner.logger.messages


@pytest.mark.parametrize('world_size,batch', [
    (1, 32), (8, 4), (8, 8), (2, 2), (4, 16), (3, 5)])
def test_lr_is_5e_4_times_total_batch_over_512(tmp_path, world_size, batch):
    lrs, messages = scaled_run(tmp_path, world_size, batch)
    assert lrs and all(lr == 5e-4 * world_size * batch / 512 for lr in lrs)
    total = world_size * batch
    assert messages == [
        'LR is set based on batch size of 32 and the current batch size is '
        f'{total}. Scaling the original LR by {total / 32}.',
        f'Learning rate after --auto-scale-lr: {lrs[0]:.6g}']


def test_without_the_flag_the_recipe_lr_stays(tmp_path):
    train = load_module('tools/train.py')
    cfg = train.build_config(train.parse_args(
        [CONFIG, '--work-dir', str(tmp_path)]))
    assert cfg.optim_wrapper.optimizer.lr == 5e-4 * 32 / 512
    assert cfg.auto_scale_lr.enable is False
