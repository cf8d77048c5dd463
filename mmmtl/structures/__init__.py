"""Data structures: task specs and the multi-task data sample."""
from .multitask_data_sample import MultiTaskDataSample
from .tasks import (KINDS, TaskSpec, check_tasks, get_task, known_tasks,
                    register_task)

__all__ = ['MultiTaskDataSample', 'TaskSpec', 'KINDS', 'get_task',
           'known_tasks', 'register_task', 'check_tasks']
