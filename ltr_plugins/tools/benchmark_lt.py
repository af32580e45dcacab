"""Train and test a set of configs on the embedded data and write one results table.

    python tools/benchmark_lt.py --suite iif [--tasks cls det] [--out work_dirs/benchmark_lt]

Each config is trained with tools/train.py (fixed seed from the config) and its last checkpoint
evaluated with tools/test.py; the table (markdown + csv) has top-1 / many / medium / few for
classification and segm AP / APr / APc / APf (+ bbox AP) for detection, and the wall time of
each run. Existing results are reused unless --force (delete the run's work dir to redo it).
A row may start from another row's run: ``load_from=CONFIG`` trains from that run's last
checkpoint (two-stage methods such as OLTR), ``checkpoint_from=CONFIG`` only tests it with this
config (e.g. the plain model under the open-set protocol); see the ``oltr`` suite. The suites
are plain data in :mod:`ltr_plugins.benchmarking.suites` (adding a method is one line).

``--preset bench`` runs the same demo configs on the larger ``bench`` preset of the embedded data
(50 classification classes, 30 LVIS-format classes) with a fixed budget: each run's config is an
overlay of its demo config (``_base_`` plus data root, class count, work-dir references, and the
schedule scaled to ``BUDGETS[task]`` of its demo epochs; :mod:`ltr_plugins.benchmarking.runner`),
saved under ``<out>/configs/``. ``--suite all`` is one row per method (both tasks) and also
writes the per-class plot of every run next to the table.

``--seeds 0 1 2`` (the default) trains and tests every row once per seed (``randomness.seed``;
the data stays the same), each seed in its own ``<out>/seed_<S>/``; the table gives the mean ±
standard deviation over the seeds and, for every row, the paired difference of its tail metric
(few / APr) to the suite's first row (CE) with a 95% Student-t interval over the seeds
(:mod:`ltr_plugins.benchmarking.stats`). A row is called higher or lower than CE only where
that interval excludes zero; otherwise the table says "not distinguishable".
"""
import argparse
import os
import os.path as osp
import platform
import time
from typing import List, Optional, Sequence

from ..benchmarking import report, runner
from ..benchmarking.suites import DEFAULT_OUT, ROOT, SUITES, Row, columns
from ..fileio import atomic_write_text


def selected(args: argparse.Namespace, row: Row) -> bool:
    """Whether ``row`` is trained / tested in this call (``--rows``, ``--reuse-only``)."""
    if args.reuse_only:
        return False
    return not args.rows or any(r in row.name or r in row.config for r in args.rows)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of tools/benchmark_lt.py (``--help`` lists every option); sets
    :data:`ltr_plugins.benchmarking.runner.BUDGETS` from ``--budget``."""
    from ..datasets.generator import PRESETS
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--suite', default='iif', choices=sorted(SUITES),
                        help='which set of methods to compare (default: iif); all = one row '
                             'per method; quick = the quick tier of all: CE, the strongest '
                             'peer and the headline row of each method')
    parser.add_argument('--tasks', nargs='+', default=['cls', 'det'], choices=['cls', 'det'],
                        help='classification and/or detection (default: both)')
    parser.add_argument('--preset', default='demo', choices=sorted(PRESETS),
                        help='embedded data preset (default: demo = the configs as they are; '
                             'bench: larger data, each run on the fixed budget BUDGETS)')
    parser.add_argument('--out', help=f'work dirs and results go here (default: {DEFAULT_OUT} '
                                      f'for the demo preset, {DEFAULT_OUT}_<preset> otherwise)')
    parser.add_argument('--force', action='store_true', help='rerun finished runs')
    parser.add_argument('--reuse-only', action='store_true',
                        help='train nothing: table the finished runs, "-" for the others')
    parser.add_argument('--budget', nargs='+', metavar='TASK=FRACTION', default=[],
                        help='override BUDGETS for a non-demo preset, e.g. --budget cls=0.5 '
                             'det=1 (use another --out: finished runs are reused)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], metavar='S',
                        help='train and test every row once per seed (randomness.seed; default '
                             '0 1 2); the table gives mean ± std and paired 95%% intervals '
                             'against the first row')
    parser.add_argument('--rows', nargs='+', metavar='TEXT',
                        help='run only the rows whose method name or config contains one of '
                             'these strings (the others are tabled if finished, else "-")')
    args = parser.parse_args(argv)
    for item in args.budget:
        task, _, frac = item.partition('=')
        try:
            value = float(frac)
        except ValueError:
            value = -1.0
        if task not in runner.BUDGETS or value <= 0:
            parser.error(f'--budget {item!r}: expected cls=F or det=F with F > 0')
        runner.BUDGETS[task] = value
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds {args.seeds}: each seed once')
    return args


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Run (or reuse) the suite's runs, write ``<out>/<suite>.md``, ``<suite>_<task>.csv`` and
    the per-class plots; returns (and prints) the markdown."""
    args = parse_args(argv)
    out = args.out or (DEFAULT_OUT if args.preset == 'demo' else f'{DEFAULT_OUT}_{args.preset}')
    out = osp.join(ROOT, out) if not osp.isabs(out) else out
    os.makedirs(out, exist_ok=True)
    benches = [runner.Bench(osp.join(out, f'seed_{seed}'), args.preset, args.force, seed)
               for seed in args.seeds]
    budgets = runner.BUDGETS
    budget = ('' if args.preset == 'demo' else
              f', budget {budgets["cls"]:g} (cls) / {budgets["det"]:.3g} (det) of each demo '
              'schedule')
    cmd = f'python tools/benchmark_lt.py --suite {args.suite} --tasks {" ".join(args.tasks)}'
    if args.preset != 'demo':
        cmd += f' --preset {args.preset}'
    cmd += ' --seeds ' + ' '.join(map(str, args.seeds))
    seeds = ('one seed: no intervals, no verdicts' if len(args.seeds) == 1 else
             f'{len(args.seeds)} seeds: mean ± std; Δ = paired difference to the first row, '
             '95% Student-t interval over the seeds')
    md: List[str] = [
        f'Results of `{cmd}` ({time.strftime("%Y-%m-%d")}, {platform.machine()} '
        f'{os.cpu_count()} CPUs, embedded {args.preset} data{budget}; {seeds}; detection: '
        'segm AP unless noted, in %).', '']
    total = 0.0
    for task in args.tasks:
        cols = columns(args.suite, task)
        suite_rows = SUITES[args.suite][task]
        runs = {(row.name, row.config): {} for row in suite_rows}
        for bench in benches:  # seed by seed: an interrupted suite leaves whole seeds
            for row in suite_rows:
                m = (bench.run(row) if selected(args, row)
                     else bench.finished(row.name, row.config))
                if m:
                    runs[(row.name, row.config)][bench.seed] = m
        rows = [(row.name, row.config, runs[(row.name, row.config)]) for row in suite_rows]
        total += sum(m.get('minutes', 0.0) for _, _, r in rows for m in r.values())
        title = 'classification' if task == 'cls' else 'instance segmentation (LVIS-format)'
        md += [f'**{title}**', '', report.table(task, rows, cols), '']
        first = benches[0]
        png = f'{args.suite}_{task}_per_class.png'
        if report.plot([(n, first.work_dir(c), r.get(first.seed)) for n, c, r in rows],
                       osp.join(out, png)):
            md += [f'Per-class plot (seed {first.seed}): '
                   f'`{osp.join(runner.rel_to_root(out), png)}`', '']
        atomic_write_text(osp.join(out, f'{args.suite}_{task}.csv'), report.runs_csv(rows, cols))
    md += [f'Total wall time of the runs in the table: {total:.0f} min.']
    text = '\n'.join(md)
    atomic_write_text(osp.join(out, f'{args.suite}.md'), text + '\n')
    print(text)
    return text


if __name__ == '__main__':
    main()
