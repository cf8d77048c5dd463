"""Train a list of configs, then tabulate parameters, metrics and Δm.

    python tools/analysis/benchmark_table.py run CONFIG|LIST [...]
        --work-root DIR [--single-task] [--cfg-options k=v ...]
        [--slurm PARTITION [--gpus N] [--gpus-per-node N]
         [--cpus-per-task N]]
    python tools/analysis/benchmark_table.py collect DIR [...]
        [--out DIR] [--pick last|best] [--plot-convention mtlora|mmmtl]

``run`` trains each config with tools/train.py in ``<work-root>/<name>``
(``--single-task``: one run per task of each config, with
``model.task_names=[<task>]``, in ``<work-root>/<name>_single_<task>``);
with ``--slurm`` it writes one sbatch script per run under
``<work-root>/slurm/`` and prints the commands that submit them instead.

``collect`` reads each work dir (a DIR that is one, or the work dirs
directly below a DIR) and writes ``table.md``, ``table.csv``,
``table.json`` and ``delta_m_vs_params.png`` into ``--out`` (default: the
one DIR given). See docs/en/benchmark.md for the columns.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Union

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmmtl.analysis.benchmark_table import (  # noqa: E402
    PICKS, BenchmarkError, Row, RunSpec, collect, plan_runs, read_config_list,
    run_locally, write_outputs, write_slurm_scripts)
from mmmtl.analysis.counting import CONVENTIONS  # noqa: E402
from mmmtl.apis import exit_on_user_error  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_SCRIPT = osp.join(REPO, 'tools', 'train.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark table: train configs, tabulate results')
    sub = parser.add_subparsers(dest='mode', required=True)
    run = sub.add_parser('run', help='train every config')
    run.add_argument('configs', nargs='+',
                     help='config files (.py) or text files listing them')
    run.add_argument('--work-root', required=True,
                     help='one work dir per run is made below it')
    run.add_argument('--single-task', action='store_true',
                     help='one run per task of each config '
                     '(model.task_names), merged into one table row')
    run.add_argument('--cfg-options', nargs='+', default=[],
                     help='key=value overrides passed to every training')
    run.add_argument('--slurm', metavar='PARTITION',
                     help='write sbatch scripts for this partition and '
                     'print their submit commands instead of training')
    run.add_argument('--gpus', type=int,
                     default=int(os.environ.get('GPUS', 4)),
                     help='GPUs per slurm run (env GPUS, default 4)')
    run.add_argument('--gpus-per-node', type=int,
                     default=int(os.environ.get('GPUS_PER_NODE', 4)),
                     help='env GPUS_PER_NODE, default 4')
    run.add_argument('--cpus-per-task', type=int,
                     default=int(os.environ.get('CPUS_PER_TASK', 5)),
                     help='env CPUS_PER_TASK, default 5')
    table = sub.add_parser('collect', help='build the comparison table')
    table.add_argument('dirs', nargs='+',
                       help='work dirs, or folders holding work dirs')
    table.add_argument('--out', help='output folder (default: the one '
                       'folder given)')
    table.add_argument('--pick', choices=PICKS, default='last',
                       help='validation to report: the last one, or the '
                       "one of the checkpoint hook's best checkpoint")
    table.add_argument('--plot-convention', choices=CONVENTIONS,
                       default='mtlora',
                       help='parameter count on the plot x axis')
    return parser.parse_args(argv)


def run_mode(args: argparse.Namespace) -> Union[List[RunSpec], List[str]]:
    """Train (or write sbatch scripts for) every run; return the runs, or
    the submit commands with ``--slurm``."""
    specs = plan_runs(read_config_list(args.configs), args.work_root,
                      args.cfg_options, args.single_task)
    if args.slurm:
        commands = write_slurm_scripts(
            specs, args.slurm, TRAIN_SCRIPT, REPO, gpus=args.gpus,
            gpus_per_node=args.gpus_per_node,
            cpus_per_task=args.cpus_per_task)
        print('\n'.join(commands))
        return commands
    run_locally(specs, TRAIN_SCRIPT)
    print('all trainings done; tabulate with:\n  python '
          f'{osp.relpath(__file__)} collect {args.work_root}')
    return specs


def collect_mode(args: argparse.Namespace) -> List[Row]:
    """Write the table files; return the rows."""
    if args.out is None and len(args.dirs) > 1:
        raise BenchmarkError('--out is needed when several folders are '
                             'given')
    register_all_modules()
    rows = collect(args.dirs, args.pick)
    paths = write_outputs(rows, args.out or args.dirs[0],
                          args.plot_convention)
    with open(paths['markdown']) as f:
        print(f.read())
    print('written: ' + ', '.join(paths.values()))
    return rows


@exit_on_user_error
def main(argv=None) -> Union[List[Row], List[RunSpec], List[str]]:
    args = parse_args(argv)
    if args.mode == 'run':
        return run_mode(args)
    return collect_mode(args)


if __name__ == '__main__':
    main()
