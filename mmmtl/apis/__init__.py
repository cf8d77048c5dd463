"""High-level APIs: run set-up shared by the tools, and inference."""
from .inference import (ImageInput, MultiTaskInferencer, Prediction,
                        collect_inputs)
from .runner_setup import (add_runner_args, exit_on_user_error, load_config,
                           parse_runner_args, prepare_config, replace_sync_bn)
from .train_options import (AutocastOptimWrapper, add_speed_args,
                            apply_speed_options)

__all__ = ['AutocastOptimWrapper', 'add_speed_args', 'apply_speed_options',
           'ImageInput', 'MultiTaskInferencer', 'Prediction',
           'add_runner_args', 'collect_inputs', 'exit_on_user_error',
           'load_config', 'parse_runner_args', 'prepare_config',
           'replace_sync_bn']
