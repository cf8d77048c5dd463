"""High-level APIs: run set-up shared by the tools."""
from .runner_setup import (exit_on_user_error, load_config, prepare_config,
                           replace_sync_bn)

__all__ = ['exit_on_user_error', 'load_config', 'prepare_config',
           'replace_sync_bn']
