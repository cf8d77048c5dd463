"""``ParamReportHook``: log and save the parameter report before training."""
import json
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmtl.analysis.counting import format_param_report, param_report
from mmmtl.registry import HOOKS


@HOOKS.register_module()
class ParamReportHook(Hook):
    """Log a parameter table at ``before_train`` and write it as JSON.

    Args:
        convention: ``'mmmtl'`` (trainable backbone incl. adapters, heads
            apart) or ``'mtlora'`` (everything trainable, decoders incl.).
        filename: JSON file name inside ``runner.work_dir``.
    """

    priority = 'VERY_LOW'

    def __init__(self, convention: str = 'mmmtl',
                 filename: str = 'param_report.json'):
        self.convention = convention
        self.filename = filename

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        report = param_report(model, self.convention)
        runner.logger.info('parameter report\n' + format_param_report(report))
        if is_main_process():
            with open(osp.join(runner.work_dir, self.filename), 'w') as f:
                json.dump(report, f, indent=2)
