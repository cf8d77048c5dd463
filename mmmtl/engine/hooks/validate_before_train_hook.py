"""Evaluate the freshly initialised model once before training starts."""
from typing import Dict, Optional

from mmengine.hooks import Hook

from mmmtl.registry import HOOKS


@HOOKS.register_module()
class ValidateBeforeTrainHook(Hook):
    """Run the validation loop at iteration 0 (skipped when resuming).

    The metrics of the untrained model are stored in the message hub under
    ``'initial_metrics'`` and in :attr:`metrics`, so that a run can report
    how much training improved every task.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self.metrics: Optional[Dict[str, float]] = None

    def before_train(self, runner) -> None:
        if runner.iter > 0 or runner.val_loop is None:
            return
        self.metrics = dict(runner.val_loop.run())
        runner.message_hub.update_info('initial_metrics', self.metrics)
