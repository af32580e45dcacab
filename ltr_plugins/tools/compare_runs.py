"""Paired comparison of benchmark runs over seeds: every column of the ``tools/benchmark_lt.py``
table for each run (mean ± std over the seeds) and each run's difference to the first run,
seed by seed, with a 95% Student-t interval and a verdict per column, and how many seeds a
difference of that size and spread would need to be resolved. The benchmark's own
tables give that difference for the tail metric against the table's first row only; this
answers any other pair, e.g. what post-hoc IIF adds to the cosine model it is applied to::

    python tools/analysis/compare_runs.py work_dirs/benchmark_lt_full \\
        convnet_cosine-s16_1xb64-30e_demo-cls convnet_cosine-s16_iif-smooth-posthoc_demo-cls

``OUT`` is a ``benchmark_lt`` output folder; a run is the name of its work dir there
(``<OUT>/seed_<S>/<RUN>/test_metrics.json``; a shared-tier run ends in ``_head-retrain``, or
``_head-retrain_on-<model>`` when it retrains another model than the tier's CE one, e.g. in
``--suite shared-9e``). The runs must be of one task (classification or detection).
"""
from __future__ import annotations

import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from ..benchmarking.report import per_seed, scale
from ..benchmarking.stats import paired_by_seed, seeds_to_resolve, summarize
from ..benchmarking.suites import COLUMNS, task_of


def load_runs(out: str, runs: Sequence[str],
              seeds: Optional[Sequence[int]] = None) -> Dict[str, Dict[int, dict]]:
    """``{run: {seed: metrics}}`` from ``<out>/seed_<S>/<run>/test_metrics.json``. ``seeds``:
    these (every run must have each: FileNotFoundError naming the missing file), else every
    ``seed_<S>`` folder where all the runs have finished (ValueError when there is none)."""
    def path(seed: int, run: str) -> str:
        return osp.join(out, f'seed_{seed}', run, 'test_metrics.json')

    if seeds is None:
        found = sorted(int(osp.basename(d)[len('seed_'):])
                       for d in glob.glob(osp.join(out, 'seed_*'))
                       if osp.basename(d)[len('seed_'):].isdigit())
        seeds = [s for s in found if all(osp.isfile(path(s, r)) for r in runs)]
        if not seeds:
            raise ValueError(f'{out}: no seed_<S> folder has finished runs of all of '
                             f'{", ".join(runs)}')
    result: Dict[str, Dict[int, dict]] = {}
    for run in runs:
        result[run] = {}
        for seed in seeds:
            if not osp.isfile(path(seed, run)):
                raise FileNotFoundError(f'{path(seed, run)}: run {run!r} has no test metrics '
                                        f'for seed {seed}')
            with open(path(seed, run)) as f:
                result[run][seed] = json.load(f)
    return result


def compare(runs: Dict[str, Dict[int, dict]]) -> str:
    """Markdown: one table of each run's columns (mean ± std over the seeds), one of each run's
    paired difference to the first run per column (95% interval, verdict)."""
    names = list(runs)
    tasks = {task_of(name) for name in names}
    if len(tasks) > 1:
        raise ValueError(f'compare: runs of different tasks: {", ".join(names)}')
    task = tasks.pop()
    cols = COLUMNS[task]
    base = names[0]
    lines = ['| run | seeds | ' + ' | '.join(c for c, _ in cols) + ' |',
             '|---|---|' + '---|' * len(cols)]
    for name in names:
        cells = []
        for _, key in cols:
            values = list(per_seed(runs[name], key).values())
            cells.append(summarize(values).format(scale(task, key)) if values else '-')
        lines.append(f'| `{name}` | {len(runs[name])} | ' + ' | '.join(cells) + ' |')
    lines += ['', f'Paired difference to `{base}` (same seeds), 95% Student-t interval:', '',
              '| run | ' + ' | '.join(f'Δ {c}' for c, _ in cols) + ' |',
              '|---|' + '---|' * len(cols)]
    for name in names[1:]:
        cells = []
        for _, key in cols:
            diff = paired_by_seed(per_seed(runs[name], key), per_seed(runs[base], key))
            if diff is None:
                cells.append('-')
                continue
            verdict = 'one seed' if diff.n < 2 else diff.verdict
            cells.append(f'{diff.format(scale(task, key))} {verdict}')
        lines.append(f'| `{name}` | ' + ' | '.join(cells) + ' |')
    lines += ['', 'Seeds an interval excluding zero would need, were each mean difference and '
              'its per-seed spread the true ones (a planning estimate, `stats.seeds_to_resolve`;'
              ' "-": no difference, or over 1000 seeds):', '',
              '| run | ' + ' | '.join(f'seeds for Δ {c}' for c, _ in cols) + ' |',
              '|---|' + '---|' * len(cols)]
    for name in names[1:]:
        cells = []
        for _, key in cols:
            diff = paired_by_seed(per_seed(runs[name], key), per_seed(runs[base], key))
            n = seeds_to_resolve(diff.mean, diff.std) if diff and diff.n > 1 else None
            cells.append('-' if n is None else str(n))
        lines.append(f'| `{name}` | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Print (and return) the comparison of the runs named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='a tools/benchmark_lt.py output folder (--out)')
    parser.add_argument('base', help='the run the others are compared with (its work-dir name)')
    parser.add_argument('runs', nargs='+', help='the runs to compare with it')
    parser.add_argument('--seeds', nargs='+', type=int, metavar='S',
                        help='these seeds (default: every seed all the runs finished)')
    args = parser.parse_args(argv)
    names: List[str] = [args.base, *args.runs]
    text = compare(load_runs(args.out, names, args.seeds))
    print(text)
    return text


if __name__ == '__main__':
    main()
