"""Stop training at a non-finite loss; never save non-finite weights."""
import glob
import os.path as osp
import re
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmtl.compat.checkpoint import load_local_checkpoint
from mmmtl.registry import HOOKS

ADVICE = ('try a lower learning rate (optim_wrapper.optimizer.lr), finite '
          'loss_weight values, gradient clipping (optim_wrapper.clip_grad) '
          'or AMP dynamic loss scaling (--amp; NonFiniteLossHook(patience=N) '
          'then tolerates N overflowing iterations whose update was '
          'skipped)')


class NonFiniteError(ValueError):
    """Training produced a non-finite loss, or a checkpoint would hold
    non-finite values (a ``ValueError``: the tools print it as one line
    and exit with status 2)."""


def non_finite_tensors(tree, prefix: str = '') -> Iterator[str]:
    """Names (``a.b.0.c``) of the floating-point tensors in the nested
    dicts/lists/tuples ``tree`` that hold NaN or inf."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() and not torch.isfinite(tree).all():
            yield prefix
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from non_finite_tensors(value, f'{prefix}.{key}'.strip('.'))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from non_finite_tensors(value, f'{prefix}.{i}'.strip('.'))


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` would load (``last_checkpoint``)."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip() or None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteError` when a loss is NaN/inf or a checkpoint
    would store NaN/inf weights or optimizer state.

    After every train iteration it checks each ``loss*`` entry of the
    model's log variables (``loss_<task>`` and the total ``loss``), agreed
    over all ranks, and stops naming the task(s), the iteration, the
    values, the task's ``loss_weight``, the learning rate and the last
    checkpoint; it runs before ``CheckpointHook``, so the weights of that
    iteration are never saved. ``before_save_checkpoint`` refuses a
    checkpoint whose ``state_dict`` or ``optimizer`` holds non-finite
    tensors (an update can break the weights while the loss that produced
    it was finite), so ``last_checkpoint`` keeps naming the last finite one.

    Args:
        patience: consecutive iterations with a non-finite loss tolerated
            (with a warning) while every parameter is still finite, i.e.
            the update was skipped, as AMP's grad scaler does on overflow.
            0 stops at the first one. In fp32 a non-finite loss has already
            updated the weights with non-finite gradients, so it stops
            whatever the patience.
        max_names: how many non-finite tensors a message names.
        max_resume_weight: a checkpoint whose largest weight magnitude
            (norm statistics aside) is above this is said to be diverging
            already, and the message names the newest earlier checkpoint
            below it instead of offering it for ``--resume``.
    """

    priority = 'HIGH'

    def __init__(self, patience: int = 0, max_names: int = 5,
                 max_resume_weight: float = 1e4) -> None:
        if patience < 0:
            raise ValueError(f'NonFiniteLossHook: patience must be >= 0, '
                             f'got {patience}')
        self.patience = patience
        self.max_names = max_names
        self.max_resume_weight = max_resume_weight
        self._streak = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        losses = {key: torch.as_tensor(value).detach()
                  for key, value in (outputs or {}).items()
                  if key.startswith('loss')}
        if not losses:
            return
        flags = torch.stack([~torch.isfinite(value).all()
                             for value in losses.values()]).int()
        all_reduce(flags)  # any rank; a no-op when not distributed
        bad = [key for key, flag in zip(losses, flags.tolist()) if flag]
        if not bad:
            self._streak = 0
            return
        self._streak += 1
        model = _unwrap(runner.model)
        if self._streak <= self.patience and _weights_finite(model):
            runner.logger.warning(
                f'iteration {runner.iter + 1}: non-finite loss '
                f'({_loss_values(losses, bad)}) but finite weights: the '
                f'update was skipped ({self._streak} of {self.patience} '
                'tolerated in a row)')
            return
        raise NonFiniteError(
            f'iteration {runner.iter + 1}: non-finite loss for '
            f'{_describe_tasks(model, losses, bad)}; training stopped '
            f'before saving these weights; {self._context(runner)}; '
            f'{ADVICE}')

    def _context(self, runner) -> str:
        """Learning rate and the checkpoint to resume from."""
        lrs = sorted({lr for values in runner.optim_wrapper.get_lr().values()
                      for lr in values})
        last = read_last_checkpoint(runner.work_dir)
        resume = _resume_advice(last, self.max_resume_weight) if last \
            else 'no checkpoint was saved yet'
        lr = ', '.join(f'{value:.3g}' for value in lrs)
        return f'learning rate now {lr}; {resume}'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        names = [name for key in ('state_dict', 'optimizer')
                 for name in non_finite_tensors(checkpoint.get(key), key)]
        if not names:
            return
        shown = ', '.join(names[:self.max_names])
        more = len(names) - self.max_names
        shown += f' and {more} more' if more > 0 else ''
        step = checkpoint.get('meta', {}).get('iter', runner.iter)
        raise NonFiniteError(
            f'iteration {step}: refusing to save a checkpoint with NaN/inf '
            f"values in {len(names)} tensor{'s' * (len(names) > 1)} "
            f'({shown}); the weights diverged; {self._context(runner)}; '
            f'{ADVICE}')


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if is_model_wrapper(model) else model


def _weights_finite(model: torch.nn.Module) -> bool:
    params = dict(model.named_parameters())
    return next(non_finite_tensors(params), None) is None


def _loss_values(losses: Dict[str, torch.Tensor], keys: List[str]) -> str:
    return ', '.join(f'{key}={losses[key].float().mean().item():.4g}'
                     for key in keys)


def _describe_tasks(model: torch.nn.Module,
                    losses: Dict[str, torch.Tensor], bad: List[str]) -> str:
    """Like ``task 'depth' (loss_depth=nan, loss_weight=nan)``, or the
    total loss when every task loss is finite."""
    task_keys = [key for key in bad if key.startswith('loss_')]
    if not task_keys:
        return (f'the total loss ({_loss_values(losses, bad)}) although '
                'every task loss is finite')
    weights: Dict[str, float] = getattr(model, 'loss_weights', {})
    parts = []
    for key in task_keys:
        task = key[len('loss_'):]
        weight = weights.get(task)
        extra = '' if weight is None else f', loss_weight={weight:g}'
        parts.append(f'task {task!r} ({_loss_values(losses, [key])}'
                     f'{extra})')
    return ', '.join(parts)


def largest_weight(path: str) -> Optional[float]:
    """The largest magnitude of the floating-point weights in the
    checkpoint ``path`` (BatchNorm running statistics aside), or None when
    it cannot be read or holds none."""
    try:
        checkpoint = load_local_checkpoint(path, map_location='cpu')
    except (OSError, ValueError):
        return None
    state = checkpoint.get('state_dict', checkpoint) \
        if isinstance(checkpoint, dict) else {}
    values = [tensor.detach().abs().max().item()
              for key, tensor in state.items()
              if isinstance(tensor, torch.Tensor)
              and tensor.is_floating_point() and tensor.numel()
              and not key.endswith(('running_mean', 'running_var'))]
    return max(values, default=None)


def _iteration(path: str) -> int:
    found = re.search(r'(\d+)\.pth$', osp.basename(path))
    return int(found[1]) if found else -1


def _resume_advice(last: str, max_weight: float) -> str:
    """Offer ``last`` for ``--resume`` unless its weights are diverging
    already; then name the newest earlier checkpoint beside it that is not
    (by the number in its name), if any."""
    largest = largest_weight(last)
    if largest is None or largest <= max_weight:
        return f'last finite checkpoint: {last} (continue from it with ' \
            '--resume)'
    name = osp.basename(last)
    advice = (f'last finite checkpoint {name} has weights up to '
              f'{largest:.2g} (diverging already)')
    earlier = sorted((path for path in glob.glob(
        osp.join(osp.dirname(last), '*.pth'))
        if 0 <= _iteration(path) < _iteration(last)
        and not osp.basename(path).startswith('best_')),
        key=_iteration, reverse=True)
    for path in earlier:
        weight = largest_weight(path)
        if weight is not None and weight <= max_weight:
            return (f'{advice}; resume from the earlier {path} (weights up '
                    f'to {weight:.2g}: --resume {path}) with a lower '
                    'learning rate')
    return (f'{advice}; resume from an earlier one or lower the learning '
            'rate and train from the start (no earlier checkpoint of that '
            f'folder has weights below {max_weight:g})')
