"""FLOPs of one forward of a multi-task segmentor, split per component.

Two counters, one convention (one fused multiply-add = one FLOP, as
mmengine / fvcore count: Swin-T at 224x224 is 4.5 GFLOPs):

* ``'jit'``: mmengine's :class:`~mmengine.analysis.FlopAnalyzer`, which
  traces the model with ``torch.jit`` and counts matmuls, linears,
  convolutions, einsums, norms and upsampling; elementwise ops (add, mul,
  GELU, softmax) count zero.
* ``'ops'``: PyTorch's ``torch.utils.flop_counter.FlopCounterMode``, which
  counts the ops as they execute (no trace, so any dynamic Python code is
  fine); it counts matmuls, convolutions and attention kernels but not
  norms or upsampling, and reports 2 FLOPs per multiply-add, halved here.

``'auto'`` uses ``'jit'`` and falls back to ``'ops'`` when the trace fails.

The backbone line is always one pass of the *plain* backbone (an adapted
backbone's wrapped module with its adapters removed); the adapters line is
the adapted backbone minus that pass. A module-scope split cannot be
trusted for adapters: hooks and replacement sites run adapter code inside
backbone modules' scopes, and region methods run backbone layers again
once per task, so the difference is the honest cost of the method.
"""
import copy
from typing import Dict, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

# the defining module, not the package: mmmtl.models.adapters imports
# mmmtl.analysis.counting, so this module may load while it does
from mmmtl.models.adapters.mechanism.base import AdaptedBackbone

COUNTERS = ('auto', 'jit', 'ops')
COUNTER_NAMES = {
    'jit': 'mmengine.analysis.FlopAnalyzer (torch.jit trace)',
    'ops': 'torch.utils.flop_counter.FlopCounterMode (executed ops, '
           'halved to multiply-adds)',
}


class TupleOutputs(nn.Module):
    """``model(x)`` with its tensors returned as a tuple (a dict's values in
    key order), the output a ``torch.jit`` trace accepts."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        out = self.model(x)
        return tuple(out.values()) if isinstance(out, dict) else tuple(out)


def _strip_root(counts: Dict[str, int], root: str) -> Dict[str, int]:
    """Keys relative to the wrapped model: ``root`` -> '', ``root.x`` ->
    ``x``; other keys are dropped."""
    prefix = root + '.'
    return {('' if name == root else name[len(prefix):]): value
            for name, value in counts.items()
            if name == root or name.startswith(prefix)}


def jit_flops(model: nn.Module, inputs: Tensor) -> Dict[str, int]:
    """FLOPs per submodule name of ``model`` ('' = total) with mmengine's
    ``FlopAnalyzer``; raises when ``torch.jit`` cannot trace the model."""
    analyzer = FlopAnalyzer(TupleOutputs(model), (inputs, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    counts = {name: int(value)
              for name, value in analyzer.by_module().items()}
    return _strip_root(counts, 'model')


def ops_flops(model: nn.Module, inputs: Tensor) -> Dict[str, int]:
    """FLOPs per submodule name of ``model`` ('' = total) with
    ``FlopCounterMode``, as multiply-adds (its counts halved). An op counts
    for every module on the call stack when it runs."""
    wrapper = TupleOutputs(model)
    with FlopCounterMode(display=False) as mode:
        wrapper(inputs)
    counts = {name: sum(ops.values()) // 2
              for name, ops in mode.get_flop_counts().items()}
    root = type(wrapper).__name__ + '.model'
    return dict(_strip_root(counts, root), **{'': counts['Global']})


COUNTER_FUNCTIONS = {'jit': jit_flops, 'ops': ops_flops}


def plain_backbone(backbone: nn.Module) -> nn.Module:
    """The backbone as a plain model runs it: a copy of an adapted
    backbone's wrapped module with the adapters removed, else itself."""
    if isinstance(backbone, AdaptedBackbone):
        return copy.deepcopy(backbone).remove_adapters()
    return backbone


def _count_both(model: nn.Module, inputs: Tensor,
                counter: str) -> Tuple[Dict[str, int], int]:
    """(per-module FLOPs of ``model``, FLOPs of its plain backbone)."""
    count = COUNTER_FUNCTIONS[counter]
    by_module = count(model, inputs)
    plain = count(plain_backbone(model.backbone), inputs)['']
    return by_module, plain


def component_flops(model: nn.Module, shape: Tuple[int, int],
                    counter: str = 'auto') -> Dict:
    """FLOPs of one forward of a multi-task segmentor on one image.

    Args:
        model: a segmentor with ``backbone``, ``heads`` (a ``ModuleDict``
            per task) and optionally ``neck``; put in eval mode here.
        shape: input (H, W).
        counter: one of :data:`COUNTERS`.

    Returns:
        dict with ``counter`` (the one that produced the figures),
        ``counter_name``, ``fallback_reason`` (why ``'auto'`` left the jit
        trace, else None) and ``flops``: ``{component: FLOPs}`` in the
        order backbone, adapters, neck (if any), ``head <task>``..., other
        (if not zero), total.
    """
    if counter not in COUNTERS:
        raise ValueError(f'counter {counter!r} is not one of {COUNTERS}')
    model.eval()
    param = next(model.parameters())
    inputs = torch.randn(1, 3, *shape, device=param.device)
    fallback_reason: Optional[str] = None
    used = 'jit' if counter == 'auto' else counter
    try:
        by_module, plain = _count_both(model, inputs, used)
    except Exception as exc:  # any trace failure: count executed ops
        if counter != 'auto':
            raise
        fallback_reason = f'{type(exc).__name__}: {exc}'.splitlines()[0]
        used = 'ops'
        by_module, plain = _count_both(model, inputs, used)
    # FlopCounterMode lists only modules that ran a counted op
    flops = {'backbone': plain,
             'adapters': by_module.get('backbone', 0) - plain}
    if getattr(model, 'neck', None) is not None:
        flops['neck'] = by_module.get('neck', 0)
    for task in model.heads:
        flops[f'head {task}'] = by_module.get(f'heads.{task}', 0)
    other = by_module[''] - sum(flops.values())
    if other:
        flops['other'] = other
    flops['total'] = by_module['']
    return dict(counter=used, counter_name=COUNTER_NAMES[used],
                fallback_reason=fallback_reason, flops=flops)
