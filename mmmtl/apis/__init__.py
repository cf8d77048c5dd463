"""High-level APIs: run set-up shared by the tools."""
from .runner_setup import prepare_config, replace_sync_bn

__all__ = ['prepare_config', 'replace_sync_bn']
