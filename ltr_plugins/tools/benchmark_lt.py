"""Train and test a set of configs on the embedded data and write one results table.

    python tools/benchmark_lt.py --suite iif [--tasks cls det] [--out work_dirs/benchmark_lt]

Each config is trained with tools/train.py (fixed seed from the config) and its last checkpoint
evaluated with tools/test.py; the table (markdown + csv) has top-1 / many / medium / few for
classification and segm AP / APr / APc / APf (+ bbox AP) for detection, and the wall time of
each run. A finished run is reused when it was made from what this call would make it from:
each run records its resolved config (every ``_base_`` merged) and the fingerprint of every run
and prepared file it reads, so a run whose config, a file that config inherits, or a run it
reads changed since is made again, and so is every run that reads it. A change of code is
not detected: --force (or a fresh --out) makes every run again.
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

``--jobs J`` makes the runs of J seeds at once (each seed's runs in the order of a serial
call; seeds share nothing but the data). Every run keeps its thread count (torch's default
or ``OMP_NUM_THREADS``), so its numbers are those of a serial call, bit for bit; the runs'
OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set), else threads of one
run spin on the cores the other runs need (measured: a detection step 4x slower).

A call holds each of its seed folders (``<out>/seed_<S>/.benchmark_lt.lock``, :func:`hold`)
until it ends: a second call on a held folder would train into the same work dirs, so it stops
before making anything and names the folder and the call that holds it.
"""
import argparse
import os
import os.path as osp
import platform
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from ..benchmarking import report, runner
from ..benchmarking.suites import (DEFAULT_OUT, ROOT, SUITES, TIERS, Row, columns, table_title,
                                   tables_of, tier_of)
from ..fileio import LockHeld, atomic_write_text, file_lock

#: the file in each seed folder that a call holds while it runs (:func:`hold`)
LOCK = '.benchmark_lt.lock'


def selected(args: argparse.Namespace, row: Row) -> bool:
    """Whether ``row`` is trained / tested in this call (``--rows``, ``--reuse-only``)."""
    if args.reuse_only:
        return False
    return not args.rows or any(r in row.name or r in row.config for r in args.rows)


def schedule(preset: str) -> str:
    """The schedule of the runs in words ('' for the demo configs' own)."""
    budgets = runner.BUDGETS
    if preset == 'demo' and all(v == 1.0 for v in budgets.values()):
        return ''
    return (f'budget {budgets["cls"]:g} (cls) / {budgets["det"]:.3g} (det) of each demo '
            'schedule')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of tools/benchmark_lt.py (``--help`` lists every option); sets
    :data:`ltr_plugins.benchmarking.runner.BUDGETS` from ``--budget``."""
    from ..datasets.generator import PRESETS
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--suite', default='iif', choices=sorted({*SUITES, *TIERS}),
                        help='which set of methods to compare (default: iif); all = one row '
                             'per method, end to end; shared = every head-level method '
                             'retrained on the frozen CE model of each seed, against the '
                             'retrained-CE control; quick = CE, the strongest peer and the '
                             'headline row of each method (two tables: quick-e2e and '
                             'quick-shared); full = every row of all once, head-level rows '
                             'on the shared backbone, the others end to end (two tables: '
                             'full-e2e and shared); shared-9e = the detection shared tier '
                             'on the CE detector trained 9 epochs instead of 6 (--tasks det); '
                             'iif-recipes = IIF\'s detection recipes end to end next to CE '
                             'and RFS (--tasks det); b16 = the classification CE model '
                             'trained at batch 16 next to the demo\'s (batch 64), and the '
                             'shared tier on it (two tables: b16-e2e and shared-b16; --tasks '
                             'cls); w32 = the detection CE model on a half-width ResNet-18 '
                             'trunk next to the demo\'s, and the shared tier on it (two '
                             'tables: w32-e2e and shared-w32; --tasks det); quick-w32 = the '
                             'quick tier with its detection rows on that model')
    parser.add_argument('--tasks', nargs='+', default=['cls', 'det'], choices=['cls', 'det'],
                        help='classification and/or detection (default: both)')
    parser.add_argument('--preset', default='demo', choices=sorted(PRESETS),
                        help='embedded data preset (default: demo = the configs as they are; '
                             'bench: larger data, each run on the fixed budget BUDGETS)')
    parser.add_argument('--out', help=f'work dirs and results go here (default: {DEFAULT_OUT} '
                                      f'for the demo preset, {DEFAULT_OUT}_<preset> otherwise)')
    parser.add_argument('--force', action='store_true',
                        help='rerun finished runs (runs whose configs or sources changed are '
                             'rerun anyway; a change of code is not detected)')
    parser.add_argument('--reuse-only', action='store_true',
                        help='train nothing: table the finished runs, "-" for the others')
    parser.add_argument('--budget', nargs='+', metavar='TASK=FRACTION', default=[],
                        help='train each run for this fraction of its demo schedule (default '
                             'BUDGETS: 1), on any preset, e.g. --budget cls=0.5 det=0.5; '
                             'shared-tier retraining is scaled too (use another --out: a run '
                             'made on another budget is not reused)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], metavar='S',
                        help='train and test every row once per seed (randomness.seed; default '
                             '0 1 2); the table gives mean ± std and paired 95%% intervals '
                             'against the first row')
    parser.add_argument('--jobs', type=int, default=1, metavar='J',
                        help='make the runs of J seeds at once (default 1); every run gives '
                             'the numbers of a serial call (docs/benchmarks/README.md, "Jobs")')
    parser.add_argument('--report', metavar='PAGE.md',
                        help='also write a self-contained report page (command, date, machine, '
                             'commit, wall time, the tables, the per-class plots copied next '
                             'to it), e.g. docs/benchmarks/quick_demo.md')
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
    if args.jobs < 1:
        parser.error(f'--jobs {args.jobs}: expected at least 1')
    held = [t for t in ('cls', 'det') if any(SUITES[s][t] for s in tables_of(args.suite))]
    if not set(args.tasks) & set(held):
        parser.error(f'--suite {args.suite} has no rows for --tasks {" ".join(args.tasks)} '
                     f'(it holds: {" ".join(held)})')
    return args


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Run (or reuse) the suite's runs, write ``<out>/<suite>.md``, ``<table>_<task>.csv`` and
    the per-class plots (and the ``--report`` page); returns (and prints) the markdown."""
    args = parse_args(argv)
    out = args.out or (DEFAULT_OUT if args.preset == 'demo' else f'{DEFAULT_OUT}_{args.preset}')
    out = osp.join(ROOT, out) if not osp.isabs(out) else out
    os.makedirs(out, exist_ok=True)
    start = time.time()
    benches = [runner.Bench(osp.join(out, f'seed_{seed}'), args.preset, args.force, seed,
                            jobs=min(args.jobs, len(args.seeds)))
               for seed in args.seeds]
    cmd = f'python tools/benchmark_lt.py --suite {args.suite} --tasks {" ".join(args.tasks)}'
    if os.environ.get('OMP_NUM_THREADS'):
        # the thread count decides the rounding (docs/reliability.md): a rerun needs it too
        cmd = f'OMP_NUM_THREADS={os.environ["OMP_NUM_THREADS"]} {cmd}'
    if args.preset != 'demo':
        cmd += f' --preset {args.preset}'
    if args.budget:
        cmd += ' --budget ' + ' '.join(args.budget)
    cmd += ' --seeds ' + ' '.join(map(str, args.seeds))
    if args.jobs > 1:
        cmd += f' --jobs {args.jobs}'
    with ExitStack() as held:  # one call per seed folder: two would make the same runs
        for bench in benches:
            held.enter_context(hold(bench.out, cmd))
        return make_and_table(args, out, benches, cmd, start)


@contextmanager
def hold(folder: str, cmd: str) -> Iterator[None]:
    """The call's lock on a seed folder (``<folder>/.benchmark_lt.lock``, see
    :func:`ltr_plugins.fileio.file_lock`): SystemExit naming the folder and the call holding
    it when another call does, since both would train into the same work dirs and overwrite
    each other's checkpoints and records. A call that ended, however, holds nothing."""
    path = osp.join(folder, LOCK)
    try:
        with file_lock(path, f'pid {os.getpid()} since {time.strftime("%Y-%m-%d %H:%M:%S")}: '
                             f'{cmd}', wait=False):
            yield
    except LockHeld as e:
        if e.path != path:
            raise
        raise SystemExit(f'benchmark_lt: {folder} is in use by another call '
                         f'({e.holder or "it did not say which"}); wait for it to end, or give '
                         'this call another --out (a copy of a finished --out reuses its '
                         'runs)') from None


def make_and_table(args: argparse.Namespace, out: str, benches: Sequence[runner.Bench],
                   cmd: str, start: float) -> str:
    """The body of :func:`main` once its seed folders are held: make (or reuse) the runs,
    write the tables, plots and ``--report`` page; returns the markdown."""
    budget = f', {schedule(args.preset)}' if schedule(args.preset) else ''
    seeds = ('one seed: no intervals, no verdicts' if len(args.seeds) == 1 else
             f'{len(args.seeds)} seeds: mean ± std; Δ = paired difference to the first row, '
             '95% Student-t interval over the seeds')
    md: List[str] = [
        f'Results of `{cmd}` ({time.strftime("%Y-%m-%d")}, {platform.machine()} '
        f'{os.cpu_count()} CPUs, embedded {args.preset} data{budget}; {seeds}; detection: '
        'segm AP unless noted, in %).', '']
    tables = tables_of(args.suite)
    sections: List[Tuple[str, str, Optional[str]]] = []  # (title, table, per-class plot)
    minutes: Dict[str, float] = {}  # per table: the wall time of its runs, summed
    # (seed, run) of every row of this call; runs made for them and not tabled count once
    tabled = {(b.seed, row.run_name) for b in benches for t in args.tasks for s in tables
              for row in SUITES[s][t]}
    counted: Set[Tuple[int, str]] = set()
    tflop: Dict[str, float] = {}  # per table (--report): TFLOPs of its runs, summed
    jobs = 1  # the most runs made at once among the tabled runs (their metrics' 'jobs')
    if args.jobs > 1 and len(benches) > 1 and not args.reuse_only:
        run_seeds_at_once(args, benches, tables)  # the loop below then reuses the runs
    for task in args.tasks:
        for suite in tables:
            suite_rows = SUITES[suite][task]
            if not suite_rows:
                continue
            rows = collect(args, benches, suite_rows)
            minutes[suite] = minutes.get(suite, 0.0) + table_minutes(rows, tabled, counted)
            jobs = max([jobs, *(m.get('jobs', 1) for _, _, runs in rows for m in runs.values())])
            title = 'classification' if task == 'cls' else 'instance segmentation (LVIS-format)'
            if len(tables) > 1 or tier_of(suite) == 'shared':
                title += f' — {table_title(suite)}'
            table = report.table(task, rows, columns(suite, task))
            md += [f'**{title}**', '', table, '']
            first = benches[0]
            png = osp.join(out, f'{suite}_{task}_per_class.png')
            plotted = [(row.name, first.work_dir(row.config, row.retrain_from),
                        runs.get(first.seed)) for row, (_, _, runs) in zip(suite_rows, rows)]
            if report.plot(plotted, png):
                md += [f'Per-class plot (seed {first.seed}): '
                       f'`{runner.rel_to_root(png)}`', '']
            else:
                png = None
            gflop = ([(row, len(r), bench_flops(benches[0], row))
                      for row, (_, _, r) in zip(suite_rows, rows) if r] if args.report else [])
            sections.append((title, table + flops_table(gflop), png))
            if gflop:
                tflop[suite] = tflop.get(suite, 0.0) + sum(
                    n * (g['train_gflop'] + g['test_gflop']) for _, n, g in gflop) / 1000
            atomic_write_text(osp.join(out, f'{suite}_{task}.csv'),
                              report.runs_csv(rows, columns(suite, task)))
    total = sum(minutes.values())
    md += ['Total wall time of the runs in the table: ' +
           (f'{total:.0f} min' if len(minutes) < 2 else f'{total:.0f} min (' + ', '.join(
               f'{s}: {m:.0f}' for s, m in minutes.items()) + ')') + '.']
    text = '\n'.join(md)
    atomic_write_text(osp.join(out, f'{args.suite}.md'), text + '\n')
    if args.report:
        write_report(args, cmd, sections, minutes, tflop, (time.time() - start) / 60,
                     benches[0].seed, jobs)
    print(text)
    return text


def write_report(args: argparse.Namespace, cmd: str,
                 sections: Sequence[Tuple[str, str, Optional[str]]], minutes: Dict[str, float],
                 tflop: Dict[str, float], elapsed: float, plot_seed: int, jobs: int = 1) -> str:
    """Write the ``--report`` page (the per-class plots copied next to it as
    ``<page name>_<n>.png``); returns its path. ``jobs``: the most runs made at once among
    the tabled runs (said in the wall-time line)."""
    import shutil
    path = osp.abspath(args.report)
    stem = osp.splitext(osp.basename(path))[0]
    os.makedirs(osp.dirname(path), exist_ok=True)
    body = []
    for i, (title, table, png) in enumerate(sections, 1):
        body += [f'## {title[0].upper()}{title[1:]}', '', table, '']
        if png:
            name = f'{stem}_{i}.png'
            shutil.copyfile(png, osp.join(osp.dirname(path), name))
            body += [f'Per-class accuracy / AP against training frequency (seed {plot_seed}):',
                     '', f'![per-class, {title}]({name})', '']
    runs = ', '.join(f'{s}: {m:.1f}' for s, m in minutes.items())
    facts = [('date', time.strftime('%Y-%m-%d %H:%M %Z')),
             ('machine', report.machine()),
             ('commit', report.commit(ROOT)),
             ('data', f'embedded `{args.preset}` preset (the same images for every seed)'),
             ('schedule', schedule(args.preset) + ' (epochs rounded, at least 1; the shared '
              'tier\'s retraining too)' if schedule(args.preset) else 'each config\'s own'),
             ('seeds', ' '.join(map(str, args.seeds)) + ' (`randomness.seed` of every run)'),
             ('wall time', f'{sum(minutes.values()):.1f} min of runs (per table: {runs}); '
                           f'this call {elapsed:.1f} min (finished runs are reused)' +
                           (f'; runs were made up to {jobs} at a time (`--jobs`): a run\'s '
                            'minutes are its wall time while sharing the cores, their sum is '
                            'more than the time they took' if jobs > 1 else '')),
             ('compute', ', '.join(f'{s}: {t:.0f} TFLOP' for s, t in tflop.items()) +
              ' (matrix products and convolutions of every run in the table, counted on one '
              'batch: `ltr_plugins/benchmarking/flops.py`)')]
    text = report.page(f'Benchmark: `--suite {args.suite}` on the embedded {args.preset} data',
                       cmd + f' --report {args.report}', facts, '\n'.join(body) + READING)
    atomic_write_text(path, text)
    return path


#: how to read a report page's tables (appended to every page)
READING = '''
## How to read the tables

Each cell is the mean ± sample standard deviation over the seeds. Δ is the paired difference of
the tail metric (few-shot accuracy for classification, APr for detection) to the table's first
row over the same seeds, with a 95% Student-t interval; a row is called above or below the
first row only where that interval excludes zero, otherwise "not distinguishable". In the
end-to-end tier the first row is CE; in the shared-backbone tier it is the control that
retrains the CE classifier exactly as every other row retrains its own, on the same frozen CE
model of the seed, so Δ measures the head-level method alone. The embedded data are small:
these numbers check directions and separability, they are not the papers' real-data results.
'''


def bench_flops(bench: runner.Bench, row: Row) -> Dict[str, float]:
    """:meth:`runner.Bench.flops` (a function so that tests can replace it)."""
    return bench.flops(row)


def flops_table(gflop: Sequence[Tuple[Row, int, Dict[str, float]]]) -> str:
    """The compute of each row's runs (``[(row, seeds run, GFLOPs of one run)]``), as a
    markdown table to put under the results; '' when there is nothing counted."""
    if not gflop:
        return ''
    lines = ['', '', '| method | train GFLOP / run | test GFLOP / run | runs | TFLOP, all runs |',
             '|---|---|---|---|---|']
    for row, n, g in gflop:
        lines.append(f'| {row.name} | {g["train_gflop"]:,.0f} | {g["test_gflop"]:,.0f} | {n} | '
                     f'{n * (g["train_gflop"] + g["test_gflop"]) / 1000:,.1f} |')
    return '\n'.join(lines)


def table_minutes(rows: Sequence[Tuple[str, str, report.Runs]], tabled: Set[Tuple[int, str]],
                  counted: Set[Tuple[int, str]]) -> float:
    """The wall time of a table's runs: each row's own ``minutes``, plus each run they needed
    and made on the way (their ``sources``, e.g. the VL-LTR stage 1 under the quick tier's LGR
    row) that is no row of the call (``tabled``: (seed, run name)), once (``counted``, updated)."""
    total = 0.0
    for _, _, runs in rows:
        for seed, m in runs.items():
            total += m.get('minutes', 0.0)
            for name, minutes in (m.get('sources') or {}).items():
                if (seed, name) not in tabled and (seed, name) not in counted:
                    counted.add((seed, name))
                    total += minutes
    return total


@contextmanager
def passive_omp_wait() -> Iterator[None]:
    """``OMP_WAIT_POLICY=PASSIVE`` for the processes started inside (unless already set)."""
    before = os.environ.get('OMP_WAIT_POLICY')
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    try:
        yield
    finally:
        if before is None:
            os.environ.pop('OMP_WAIT_POLICY', None)


def run_seeds_at_once(args: argparse.Namespace, benches: Sequence[runner.Bench],
                      tables: Sequence[str]) -> None:
    """Make the call's runs, ``args.jobs`` seeds at once (a thread per seed; the runs are
    subprocesses), each seed's in the order of a serial call (see the module docstring).
    Raises the first seed's error after every seed has finished or failed."""
    def one_seed(bench: runner.Bench) -> None:
        try:
            for task in args.tasks:
                for suite in tables:
                    if SUITES[suite][task]:
                        collect(args, [bench], SUITES[suite][task])
        except Exception:  # say so now: the other seeds may run for a long time yet
            print(f'[benchmark] seed {bench.seed} stopped (the other seeds go on):\n'
                  + traceback.format_exc(), flush=True)
            raise

    with passive_omp_wait(), ThreadPoolExecutor(min(args.jobs, len(benches))) as pool:
        futures = [pool.submit(one_seed, bench) for bench in benches]
    for future in futures:
        future.result()


def collect(args: argparse.Namespace, benches: Sequence[runner.Bench],
            suite_rows: Sequence[Row]) -> List[Tuple[str, str, report.Runs]]:
    """Run (or reuse) ``suite_rows`` seed by seed (an interrupted suite leaves whole seeds);
    ``[(name, config, {seed: metrics})]`` in the rows' order."""
    runs: List[report.Runs] = [{} for _ in suite_rows]
    for bench in benches:
        # shared-tier rows of a seed: their classifiers retrained together on one trunk pass
        made = bench.run_group([row for row in suite_rows if selected(args, row)])
        for row, row_runs in zip(suite_rows, runs):
            m = made.get(row) or (
                bench.run(row) if selected(args, row) else
                bench.finished(row))
            if m:
                row_runs[bench.seed] = m
    return [(row.name, row.config, r) for row, r in zip(suite_rows, runs)]


if __name__ == '__main__':
    main()
