"""Runner hooks."""
from .check_tasks_hook import CheckTasksHook, check_model_tasks
from .param_report_hook import ParamReportHook
from .prediction_visualization_hook import PredictionVisualizationHook
from .validate_before_train_hook import ValidateBeforeTrainHook

__all__ = ['CheckTasksHook', 'ParamReportHook', 'PredictionVisualizationHook',
           'ValidateBeforeTrainHook', 'check_model_tasks']
