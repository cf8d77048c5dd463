"""NonFiniteLossHook: stops at a non-finite loss naming the task, iteration,
values, loss weight, learning rate and last checkpoint; refuses checkpoints
with non-finite tensors; tolerates skipped (AMP) steps with patience."""
import logging
import math

import pytest
import torch
from torch import nn

from mmmtl.engine.hooks import NonFiniteError, NonFiniteLossHook
from mmmtl.engine.hooks.non_finite_hook import non_finite_tensors

NAN, INF = float('nan'), float('inf')


class FakeOptimWrapper:

    def get_lr(self):
        return dict(lr=[1e6, 1e6])


class FakeModel(nn.Module):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.loss_weights = dict(semseg=1.0, depth=NAN)


class FakeRunner:

    def __init__(self, work_dir, it=6):
        self.work_dir = str(work_dir)
        self.iter = it
        self.model = FakeModel()
        self.optim_wrapper = FakeOptimWrapper()
        self.logger = logging.getLogger('test_non_finite_hook')


def losses(semseg=0.5, depth=0.25):
    return dict(loss=torch.tensor(semseg + depth),
                loss_semseg=torch.tensor(semseg),
                loss_depth=torch.tensor(depth), acc_seg=torch.tensor(NAN))


def test_finite_losses_pass(tmp_path):
    NonFiniteLossHook().after_train_iter(FakeRunner(tmp_path), 6,
                                         outputs=losses())


def test_message_names_task_iteration_weight_lr_and_checkpoint(tmp_path):
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    with pytest.raises(NonFiniteError) as info:
        NonFiniteLossHook().after_train_iter(
            FakeRunner(tmp_path), 6, outputs=losses(depth=NAN))
    message = str(info.value)
    assert message.startswith(
        "iteration 7: non-finite loss for task 'depth' (loss_depth=nan, "
        'loss_weight=nan); training stopped before saving these weights; '
        'learning rate now 1e+06; last finite checkpoint: '
        f'{tmp_path}/iter_6.pth (continue from it with --resume); try a '
        'lower learning rate')
    assert "'semseg'" not in message
    assert '\n' not in message
    assert isinstance(info.value, ValueError)  # one line, exit 2 in tools


def test_every_non_finite_task_is_named(tmp_path):
    with pytest.raises(NonFiniteError, match=(
            r"task 'semseg' \(loss_semseg=inf, loss_weight=1\), task "
            r"'depth' \(loss_depth=nan, loss_weight=nan\); .*no checkpoint "
            'was saved yet')):
        NonFiniteLossHook().after_train_iter(
            FakeRunner(tmp_path), 6, outputs=losses(semseg=INF, depth=NAN))


def test_total_loss_overflow_with_finite_task_losses(tmp_path):
    outputs = losses()
    outputs['loss'] = torch.tensor(INF)
    with pytest.raises(NonFiniteError, match=r'iteration 7: non-finite loss '
                       r'for the total loss \(loss=inf\) although every task'):
        NonFiniteLossHook().after_train_iter(FakeRunner(tmp_path), 6,
                                             outputs=outputs)


def test_patience_tolerates_skipped_steps_only(tmp_path, caplog):
    runner = FakeRunner(tmp_path)
    hook = NonFiniteLossHook(patience=2)
    with caplog.at_level(logging.WARNING):
        hook.after_train_iter(runner, 6, outputs=losses(depth=NAN))
        hook.after_train_iter(runner, 6, outputs=losses())  # resets
        hook.after_train_iter(runner, 6, outputs=losses(depth=NAN))
        hook.after_train_iter(runner, 6, outputs=losses(depth=NAN))
    assert 'update was skipped (2 of 2 tolerated in a row)' in caplog.text
    with pytest.raises(NonFiniteError, match='iteration 7'):
        hook.after_train_iter(runner, 6, outputs=losses(depth=NAN))
    # the update was not skipped: the weights are already broken
    hook = NonFiniteLossHook(patience=2)
    with torch.no_grad():
        runner.model.linear.weight[0, 0] = NAN
    with pytest.raises(NonFiniteError, match="task 'depth'"):
        hook.after_train_iter(runner, 6, outputs=losses(depth=NAN))


def test_negative_patience_is_refused():
    with pytest.raises(ValueError, match='patience must be >= 0, got -1'):
        NonFiniteLossHook(patience=-1)


def checkpoint(bad_params=0, bad_state=False):
    state_dict = {f'backbone.w{i}': torch.ones(3) for i in range(8)}
    for i in range(bad_params):
        state_dict[f'backbone.w{i}'][1] = INF
    state_dict['steps'] = torch.tensor(3)  # integer buffers are skipped
    state = {0: dict(step=torch.tensor(1.0), exp_avg=torch.zeros(3))}
    if bad_state:
        state[0]['exp_avg'][0] = NAN
    return dict(meta=dict(iter=8), state_dict=state_dict,
                optimizer=dict(state=state, param_groups=[dict(lr=0.1)]),
                message_hub=dict(log_scalars=dict(loss=NAN)))


def test_finite_checkpoint_is_saved(tmp_path):
    NonFiniteLossHook().before_save_checkpoint(FakeRunner(tmp_path),
                                               checkpoint())


def test_non_finite_checkpoint_is_refused_naming_tensors(tmp_path):
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    with pytest.raises(NonFiniteError) as info:
        NonFiniteLossHook(max_names=2).before_save_checkpoint(
            FakeRunner(tmp_path), checkpoint(bad_params=3, bad_state=True))
    assert str(info.value).startswith(
        'iteration 8: refusing to save a checkpoint with NaN/inf values in '
        '4 tensors (state_dict.backbone.w0, state_dict.backbone.w1 and 2 '
        'more); the weights diverged; learning rate now 1e+06; last finite '
        f'checkpoint: {tmp_path}/iter_6.pth')


def test_non_finite_tensors_walks_nested_containers():
    tree = dict(a=[torch.zeros(1), (torch.tensor([math.inf]),)],
                b=dict(c=torch.tensor([NAN]), d=torch.tensor([1])), e=NAN)
    assert list(non_finite_tensors(tree)) == ['a.1.0', 'b.c']


def test_diverging_last_checkpoint_is_not_offered_for_resume(tmp_path):
    """The last finite checkpoint can hold huge weights already (lr=1e6):
    the message says so and names the newest earlier one that does not."""
    def save(name, value):
        torch.save(dict(state_dict={'w': torch.full((2, ), value),
                                    'bn.running_var': torch.full((2, ), 1e9),
                                    'bn.num_batches_tracked': torch.tensor(9)},
                        meta=dict()), tmp_path / name)

    save('iter_2.pth', 0.5)
    save('iter_4.pth', -3e6)
    save('iter_6.pth', 1.2e23)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    with pytest.raises(NonFiniteError) as info:
        NonFiniteLossHook().after_train_iter(
            FakeRunner(tmp_path), 6, outputs=losses(depth=NAN))
    assert ('last finite checkpoint iter_6.pth has weights up to 1.2e+23 '
            '(diverging already); resume from the earlier '
            f'{tmp_path}/iter_2.pth (weights up to 0.5: --resume '
            f'{tmp_path}/iter_2.pth) with a lower learning rate; try a '
            'lower learning rate') in str(info.value)
    assert 'continue from it' not in str(info.value)

    (tmp_path / 'iter_2.pth').unlink()
    with pytest.raises(NonFiniteError) as info:
        NonFiniteLossHook().after_train_iter(
            FakeRunner(tmp_path), 6, outputs=losses(depth=NAN))
    assert ('last finite checkpoint iter_6.pth has weights up to 1.2e+23 '
            '(diverging already); resume from an earlier one or lower the '
            'learning rate and train from the start (no earlier checkpoint '
            'of that folder has weights below 10000)') in str(info.value)
