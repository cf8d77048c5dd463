"""Analysis of models: parameter counts (:mod:`.counting`), FLOPs per
component (:mod:`.flops`), the cost table of ``tools/analysis/get_flops.py``
(:mod:`.complexity`) and measured inference speed (:mod:`.throughput`).

:mod:`mmmtl.analysis.benchmark_table` (training runs in subprocesses or
slurm scripts, tables and plots) is not imported here: import it by its
name.
"""
from .complexity import (component_params, component_rows,
                         format_complexity_report)
from .counting import (CONVENTIONS, count_params, format_param_report,
                       param_report)
from .flops import (COUNTER_NAMES, COUNTERS, component_flops, jit_flops,
                    ops_flops, plain_backbone)
from .throughput import check_timing, device_name, inference_throughput

__all__ = [
    'CONVENTIONS', 'COUNTERS', 'COUNTER_NAMES', 'check_timing',
    'component_flops', 'component_params', 'component_rows', 'count_params',
    'device_name', 'format_complexity_report', 'format_param_report',
    'inference_throughput', 'jit_flops', 'ops_flops', 'param_report',
    'plain_backbone'
]
