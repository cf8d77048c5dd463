"""Parameter counting shared by every method; it states what it counts."""
from typing import Dict, Iterable, Optional

from torch import nn

CONVENTIONS = ('mmmtl', 'mtlora')

DESCRIPTIONS = {
    'mmmtl': ('trainable parameters of the backbone wrapper '
              '(adapters + backbone parameters left trainable by the '
              "method's patterns), excluding neck and task heads; "
              'backbone_total = every parameter of the wrapped backbone '
              'module alone (mmseg Swin-T: 27,520,698 incl. its four '
              'output norms, 2,880 more than the official 27,517,818)'),
    'mtlora': ('every trainable parameter of the model, task '
               'decoders included (the convention of the published '
               'MTLoRA/TADFormer counts)'),
}


def count_params(params: Iterable[nn.Parameter],
                 trainable_only: bool = False) -> int:
    """Number of elements of ``params`` (each tensor once)."""
    seen, total = set(), 0
    for param in params:
        if id(param) in seen or (trainable_only and not param.requires_grad):
            continue
        seen.add(id(param))
        total += param.numel()
    return total


def _trainable(module: Optional[nn.Module]) -> int:
    return 0 if module is None else count_params(module.parameters(), True)


def param_report(model: nn.Module, convention: str = 'mmmtl') -> Dict:
    """Parameter report of a segmentor (``backbone``/``neck``/``heads``
    attributes) or of a bare backbone.

    Returns:
        dict with ``convention``, ``counts`` (what the headline counts),
        ``backbone_type``, ``backbone_total`` (wrapped module only, without
        the parameters a method injected into it), ``backbone_trainable``
        (adapters included), ``adapters`` (parameters of the wrapper outside
        the wrapped module, and those it injected into it, e.g. HF PEFT
        layers: ``injected_parameters()``), ``wrapped_trainable``,
        ``backbone_trainable_pct`` (of ``backbone_total``), ``heads``
        ({task: trainable}), ``heads_total``, ``neck_trainable``,
        ``other_trainable``, ``total_trainable``, ``total_params`` and
        ``headline``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f'convention {convention!r} is not one of '
                         f'{CONVENTIONS}')
    backbone = getattr(model, 'backbone', model)
    wrapped = getattr(backbone, 'module', backbone)
    injected = {id(p) for p in getattr(backbone, 'injected_parameters',
                                       lambda: [])()}
    wrapped_ids = {id(p) for p in wrapped.parameters()} - injected
    backbone_total = count_params(p for p in wrapped.parameters()
                                  if id(p) not in injected)
    backbone_trainable = _trainable(backbone)
    adapters = count_params(
        p for p in backbone.parameters() if id(p) not in wrapped_ids)
    heads_module = getattr(model, 'heads', None)
    heads = ({task: _trainable(head) for task, head in heads_module.items()}
             if isinstance(heads_module, nn.ModuleDict) else {})
    heads_total = sum(heads.values())
    neck = _trainable(getattr(model, 'neck', None)) if model is not backbone \
        else 0
    total_trainable = _trainable(model)
    report = dict(
        convention=convention,
        counts=DESCRIPTIONS[convention],
        backbone_type=type(backbone).__name__,
        wrapped_type=type(wrapped).__name__,
        backbone_total=backbone_total,
        backbone_trainable=backbone_trainable,
        wrapped_trainable=_trainable(wrapped),
        adapters=adapters,
        backbone_trainable_pct=100.0 * backbone_trainable / max(
            backbone_total, 1),
        heads=heads,
        heads_total=heads_total,
        neck_trainable=neck,
        other_trainable=(total_trainable - backbone_trainable - heads_total -
                         neck),
        total_trainable=total_trainable,
        total_params=count_params(model.parameters()),
    )
    report['headline'] = (backbone_trainable if convention == 'mmmtl' else
                          total_trainable)
    return report


def format_param_report(report: Dict) -> str:
    """A plain-text table of :func:`param_report`'s result."""
    rows = [
        ('backbone total (' + report['wrapped_type'] + ')',
         report['backbone_total']),
        ('trainable in backbone (adapters incl.)',
         report['backbone_trainable']),
        ('  of which adapters', report['adapters']),
        ('  of which wrapped-backbone params', report['wrapped_trainable']),
    ]
    rows += [(f'head {task}', n) for task, n in report['heads'].items()]
    rows += [
        ('heads total', report['heads_total']),
        ('neck trainable', report['neck_trainable']),
        ('other trainable', report['other_trainable']),
        ('total trainable', report['total_trainable']),
        ('total parameters', report['total_params']),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f'{name:<{width}}  {value:>12,d}' for name, value in rows]
    lines.append(f'{"trainable % of backbone":<{width}}  '
                 f'{report["backbone_trainable_pct"]:>11.3f}%')
    lines.append(f'headline ({report["convention"]}): '
                 f'{report["headline"]:,d} = {report["counts"]}')
    return '\n'.join(lines)
