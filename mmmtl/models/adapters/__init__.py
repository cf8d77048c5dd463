"""Parameter-efficient methods on one adapter mechanism (hooks, module
replacement, per-task regions, shared modules; ``docs/en/adapters.md``)."""
from .base import AdaptedBackbone, to_feature_layout
from .context import PromptState, TaskContext, current_context
from .counting import format_param_report, param_report
from .freeze import freeze_except, set_frozen_bn_eval
from .insertion import (AdapterHook, BoundHook, ChannelsFirst, attach, detach,
                        find_modules)
from .lora import LoRALinear
from .mtlora import MTLoRA
from .polyhistor import (Polyhistor, PolyhistorAdapter,
                         PolyhistorHyperNetwork, PolyhistorLite)
from .replace import AdaptedSite, replace_module, restore_module
from .support import get_support, require_support
from .tadformer import TADFormer, TaskAwareLoRA
from .task_filters import DynamicTaskFilter, StaticTaskFilter
from .vmt_adapter import VMTAdapter, VMTAdapterLite, VMTLayer

__all__ = [
    'AdaptedBackbone', 'to_feature_layout', 'PromptState', 'TaskContext',
    'current_context', 'param_report', 'format_param_report',
    'freeze_except', 'set_frozen_bn_eval', 'AdapterHook', 'BoundHook',
    'attach', 'detach', 'find_modules', 'ChannelsFirst', 'LoRALinear',
    'MTLoRA', 'Polyhistor', 'PolyhistorLite', 'PolyhistorAdapter',
    'PolyhistorHyperNetwork', 'AdaptedSite', 'replace_module',
    'restore_module', 'get_support', 'require_support', 'TADFormer',
    'TaskAwareLoRA', 'DynamicTaskFilter', 'StaticTaskFilter', 'VMTAdapter',
    'VMTAdapterLite', 'VMTLayer'
]
