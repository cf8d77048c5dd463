"""Runner hooks."""
from .validate_before_train_hook import ValidateBeforeTrainHook
from .param_report_hook import ParamReportHook  # noqa: F401

__all__ = ['ValidateBeforeTrainHook']
