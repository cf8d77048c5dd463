"""Parameter-efficient methods on one adapter mechanism (hooks, module
replacement, per-task regions, shared modules; ``docs/en/adapters.md``).

Subpackages by role:

* ``mechanism``: the wrapper (:class:`AdaptedBackbone`), insertion forms,
  the task context, regions, freezing, activation checkpointing;
* ``layers``: reusable adapter layers (LoRA, DoRA, projections, PHM, task
  filters);
* ``methods``: one small file per method: its layers and insertion policy;
* ``support``: what methods need from inside each backbone family.
"""
from mmmtl.analysis.counting import format_param_report, param_report
from .layers.bottleneck import BottleneckLayer, LowRankProjection
from .layers.dora import DoRALinear
from .layers.lora import LoRALinear
from .layers.phm import PHMProjection, PHMRule
from .layers.task_filters import DynamicTaskFilter, StaticTaskFilter
from .mechanism.base import AdaptedBackbone, to_feature_layout
from .mechanism.context import PromptState, TaskContext, current_context
from .mechanism.freeze import freeze_except, set_frozen_bn_eval
from .mechanism.insertion import (AdapterHook, BoundHook, ChannelsFirst,
                                  attach, detach, find_modules)
from .mechanism.replace import AdaptedSite, replace_module, restore_module
from .methods.bias_tuning import BitFit, DecoderOnly, RelPosBiasTuning
from .methods.bottleneck import BottleneckAdapter, LowRankAdapter
from .methods.compacter import Compacter, CompacterPlusPlus
from .methods.hf_peft import HFPEFTAdapter
from .methods.hyperformer import (Hyperformer, HyperformerAdapter,
                                  HyperformerHyperNetwork)
from .methods.lora_dora import DoRA, LoRA
from .methods.mtlora import MTLoRA
from .methods.polyhistor import (Polyhistor, PolyhistorAdapter,
                                 PolyhistorHyperNetwork, PolyhistorLite)
from .methods.tadformer import TADFormer, TaskAwareLoRA
from .methods.vmt_adapter import VMTAdapter, VMTAdapterLite, VMTLayer
from .methods.vpt import VPT, VisualPrompts, VPTDeep, VPTShallow
from .support import get_support, require_support

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
    'PHMRule', 'HFPEFTAdapter'
]
