"""Evaluation: per-task evaluators, MultiTaskMetric and delta_m."""
from .evaluators import (TASK_EVALUATORS, DepthEvaluator, EdgeEvaluator,
                         LabelEvaluator, NoValidGroundTruthError,
                         NonFinitePredictionError, NormalsEvaluator,
                         SaliencyEvaluator, TaskEvaluator,
                         build_task_evaluator, register_evaluator)
from .functional import (LOWER_IS_BETTER_METRICS, delta_m, is_lower_better,
                         relative_change, relative_changes)
from .metrics import MultiTaskMetric

__all__ = ['TaskEvaluator', 'TASK_EVALUATORS', 'build_task_evaluator',
           'register_evaluator', 'NoValidGroundTruthError',
           'NonFinitePredictionError', 'LabelEvaluator', 'SaliencyEvaluator',
           'NormalsEvaluator', 'DepthEvaluator', 'EdgeEvaluator',
           'MultiTaskMetric', 'delta_m', 'relative_change',
           'relative_changes', 'is_lower_better', 'LOWER_IS_BETTER_METRICS']
