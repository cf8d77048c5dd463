"""High-level APIs: run set-up shared by the tools."""
from .runner_setup import (add_runner_args, exit_on_user_error, load_config,
                           parse_runner_args, prepare_config, replace_sync_bn)

__all__ = ['add_runner_args', 'exit_on_user_error', 'load_config',
           'parse_runner_args', 'prepare_config', 'replace_sync_bn']
