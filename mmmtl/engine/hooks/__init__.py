"""Runner hooks."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .check_tasks_hook import CheckTasksHook, check_model_tasks
from .graceful_stop_hook import GracefulStop, GracefulStopHook
from .non_finite_hook import NonFiniteError, NonFiniteLossHook
from .param_report_hook import ParamReportHook
from .prediction_visualization_hook import PredictionVisualizationHook
from .validate_before_train_hook import ValidateBeforeTrainHook
from .work_dir_lock_hook import (WorkDirLock, WorkDirLockedError,
                                 WorkDirLockHook, check_work_dir_free)

__all__ = ['AtomicCheckpointHook', 'NonFiniteError', 'NonFiniteLossHook',
           'WorkDirLock', 'WorkDirLockedError', 'WorkDirLockHook',
           'CheckTasksHook', 'GracefulStop', 'GracefulStopHook',
           'ParamReportHook', 'PredictionVisualizationHook',
           'ValidateBeforeTrainHook', 'check_model_tasks',
           'check_work_dir_free']
