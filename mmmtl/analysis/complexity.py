"""The cost table of ``tools/analysis/get_flops.py``: FLOPs and parameters
per component (backbone, adapters, neck, each head, total)."""
from typing import Dict, List

from torch import nn

from .counting import count_params

#: what each line of the table counts (heads: every ``head <task>``)
DESCRIPTIONS = {
    'backbone': 'one pass of the backbone alone, adapters removed',
    'adapters': 'all the method adds to that pass: adapter and shared '
                'modules, replaced sites, backbone layers run again per '
                'task (task streams, prompt tokens)',
    'neck': 'the neck on every feature list it is given',
    'head': "the task's decoder, up to its logits at head resolution",
    'other': 'ops of the segmentor outside backbone, neck and heads',
    'total': "one forward of the model ('tensor' mode), every task, one "
             'image',
}


def _params(module: nn.Module) -> int:
    return count_params(module.parameters())


def component_params(model: nn.Module, report: Dict) -> Dict[str, tuple]:
    """``{component: (params, trainable)}`` for the components of
    :func:`~mmmtl.analysis.flops.component_flops`, from ``report``
    (:func:`~mmmtl.analysis.counting.param_report` of ``model``)."""
    params = {
        'backbone': (report['backbone_total'], report['wrapped_trainable']),
        'adapters': (report['adapters'], report['backbone_trainable'] -
                     report['wrapped_trainable']),
    }
    if getattr(model, 'neck', None) is not None:
        params['neck'] = (_params(model.neck), report['neck_trainable'])
    for task, head in model.heads.items():
        params[f'head {task}'] = (_params(head), report['heads'][task])
    params['total'] = (report['total_params'], report['total_trainable'])
    return params


def component_rows(model: nn.Module, flops: Dict[str, int],
                   report: Dict) -> List[Dict]:
    """One row per component of ``flops``: ``name``, ``flops``,
    ``gflops``, ``params``, ``trainable`` (None where the component owns no
    parameters, e.g. ``other``) and ``includes`` (what the line counts)."""
    params = component_params(model, report)
    rows = []
    for name, value in flops.items():
        count, trainable = params.get(name, (None, None))
        rows.append(dict(
            name=name, flops=value, gflops=value / 1e9, params=count,
            trainable=trainable,
            includes=DESCRIPTIONS[name.split(' ')[0]]))
    return rows


def _number(value) -> str:
    return '-' if value is None else f'{value:,d}'


def format_complexity_report(report: Dict) -> str:
    """A plain-text table of a ``get_flops`` report: the rows, a legend of
    what each line includes, the counter and the throughput."""
    height, width = report['input_shape']
    lines = [f"config: {report['config']}",
             f'input: 1 x 3 x {height} x {width} '
             f"({report['shape_source']})",
             f"FLOPs: {report['counter_name']}; one multiply-add = one FLOP"]
    if report['fallback_reason']:
        lines.append('  (the jit trace failed, so executed ops were '
                     f"counted: {report['fallback_reason']})")
    rows = report['components']
    name_width = max(len(row['name']) for row in rows)
    lines.append(f'{"component":<{name_width}}  {"GFLOPs":>9}  '
                 f'{"params":>12}  {"trainable":>12}')
    for row in rows:
        lines.append(f"{row['name']:<{name_width}}  {row['gflops']:>9.3f}  "
                     f"{_number(row['params']):>12}  "
                     f"{_number(row['trainable']):>12}")
    lines.append('what each line counts:')
    seen = set()
    for row in rows:
        kind = row['name'].split(' ')[0]
        if kind not in seen:
            seen.add(kind)
            lines.append(f"  {kind}: {row['includes']}")
    speed = report['throughput']
    if speed:
        lines.append(
            f"throughput: {speed['images_per_s']:.2f} images/s on "
            f"{speed['device']} (model.predict, no grad; median of "
            f"{speed['repeats']} batches of {speed['batch_size']} after "
            f"{speed['warmup']} warm-up)")
    return '\n'.join(lines)
