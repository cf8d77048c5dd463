"""Evaluation: per-task evaluators, MultiTaskMetric and delta_m."""
