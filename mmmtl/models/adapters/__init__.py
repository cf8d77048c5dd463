"""Parameter-efficient methods on one adapter mechanism (hooks, module
replacement, per-task regions, shared modules; ``docs/en/adapters.md``)."""
from .base import AdaptedBackbone, to_feature_layout
from .bias_tuning import BitFit, DecoderOnly, RelPosBiasTuning
from .bottleneck import (BottleneckAdapter, BottleneckLayer, LowRankAdapter,
                         LowRankProjection)
from .compacter import Compacter, CompacterPlusPlus, PHMProjection, PHMRule
from .context import PromptState, TaskContext, current_context
from .counting import format_param_report, param_report
from .dora import DoRALinear
from .freeze import freeze_except, set_frozen_bn_eval
from .hyperformer import (Hyperformer, HyperformerAdapter,
                          HyperformerHyperNetwork)
from .insertion import (AdapterHook, BoundHook, ChannelsFirst, attach, detach,
                        find_modules)
from .lora import LoRALinear
from .mtlora import MTLoRA
from .peft_lora import DoRA, LoRA
from .polyhistor import (Polyhistor, PolyhistorAdapter,
                         PolyhistorHyperNetwork, PolyhistorLite)
from .replace import AdaptedSite, replace_module, restore_module
from .support import get_support, require_support
from .tadformer import TADFormer, TaskAwareLoRA
from .task_filters import DynamicTaskFilter, StaticTaskFilter
from .vmt_adapter import VMTAdapter, VMTAdapterLite, VMTLayer
from .vpt import VPT, VisualPrompts, VPTDeep, VPTShallow

__all__ = [
    'AdaptedBackbone', 'to_feature_layout', 'PromptState', 'TaskContext',
    'current_context', 'param_report', 'format_param_report',
    'freeze_except', 'set_frozen_bn_eval', 'AdapterHook', 'BoundHook',
    'attach', 'detach', 'find_modules', 'ChannelsFirst', 'LoRALinear',
    'MTLoRA', 'Polyhistor', 'PolyhistorLite', 'PolyhistorAdapter',
    'PolyhistorHyperNetwork', 'AdaptedSite', 'replace_module',
    'restore_module', 'get_support', 'require_support', 'TADFormer',
    'TaskAwareLoRA', 'DynamicTaskFilter', 'StaticTaskFilter', 'VMTAdapter',
    'VMTAdapterLite', 'VMTLayer', 'LoRA', 'DoRA', 'DoRALinear', 'BitFit',
    'RelPosBiasTuning', 'DecoderOnly', 'VPT', 'VPTDeep', 'VPTShallow',
    'VisualPrompts', 'Hyperformer', 'HyperformerAdapter',
    'HyperformerHyperNetwork',
    'BottleneckAdapter', 'BottleneckLayer', 'LowRankAdapter',
    'LowRankProjection', 'Compacter', 'CompacterPlusPlus', 'PHMProjection',
    'PHMRule'
]
