"""Per-task evaluators, chosen by task name or kind."""
from .base import (DEFAULT_KIND_EVALUATORS, DEFAULT_TASK_EVALUATORS,
                   TASK_EVALUATORS, NoValidGroundTruthError,
                   NonFinitePredictionError, TaskEvaluator,
                   build_task_evaluator, check_finite_prediction,
                   register_evaluator, to_numpy)
from .depth import DepthEvaluator
from .edges import EdgeEvaluator
from .label import LabelEvaluator
from .normals import NormalsEvaluator
from .saliency import SaliencyEvaluator

__all__ = ['TaskEvaluator', 'TASK_EVALUATORS', 'DEFAULT_TASK_EVALUATORS',
           'DEFAULT_KIND_EVALUATORS', 'build_task_evaluator',
           'register_evaluator', 'to_numpy', 'check_finite_prediction',
           'NoValidGroundTruthError', 'NonFinitePredictionError',
           'LabelEvaluator',
           'SaliencyEvaluator', 'NormalsEvaluator', 'DepthEvaluator',
           'EdgeEvaluator']
