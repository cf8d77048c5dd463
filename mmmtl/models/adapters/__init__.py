"""Parameter-efficient methods: adapters attached to a backbone by hooks."""
from .base import AdaptedBackbone, to_feature_layout
from .counting import format_param_report, param_report
from .freeze import freeze_except, set_frozen_bn_eval
from .insertion import (AdapterHook, ChannelsFirst, attach, detach,
                        find_modules)
from .vmt_adapter import VMTAdapter, VMTAdapterLite, VMTLayer

__all__ = [
    'AdaptedBackbone', 'to_feature_layout', 'param_report',
    'format_param_report', 'freeze_except', 'set_frozen_bn_eval',
    'AdapterHook', 'attach', 'detach', 'find_modules', 'VMTAdapter',
    'VMTAdapterLite', 'VMTLayer'
]
