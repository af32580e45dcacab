"""Results of ``tools/benchmark_lt.py``: the markdown table (mean ± std over the seeds, paired
difference of the tail metric to the first row with its 95% interval, verdict), the csv of
every run and the per-class plot; the results tables read back from a page (to compare a rerun
with it: ``tools/analysis/compare_reports.py``)."""
from __future__ import annotations

import csv
import io
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .stats import paired_by_seed, summarize
from .suites import TAIL

#: a table row: (method name, config, {seed: metrics})
Runs = Dict[int, dict]


def value(m: dict, key: str):
    """m[key]; ``key`` may list alternatives 'a|b' (first present wins), None if absent."""
    return next((m[k] for k in key.split('|') if k in m), None)


def per_seed(runs: Runs, key: str) -> Dict[int, float]:
    """``{seed: value of key}`` of the runs that have it."""
    return {seed: v for seed, m in runs.items() if (v := value(m, key)) is not None}


def scale(task: str, key: str) -> float:
    """Factor to percent: LVIS AP is in [0, 1], accuracy already in %, F-measures stay
    fractions (as in the OLTR paper)."""
    return 1.0 if 'f_measure' in key or task == 'cls' else 100.0


def cell(task: str, key: str, runs: Runs) -> str:
    """Mean ± std over the seeds of ``key`` in ``runs`` (``{seed: metrics}``), '-' if none."""
    values = list(per_seed(runs, key).values())
    if not values:
        return '-'
    return summarize(values).format(scale(task, key), 3 if 'f_measure' in key else 1)


def table(task: str, rows: Sequence[Tuple[str, str, Runs]],
          cols: Sequence[Tuple[str, str]]) -> str:
    """Markdown table of ``rows`` = ``[(name, config, {seed: metrics})]``: each column's mean ±
    std over the seeds, the paired difference of the tail metric (:data:`TAIL`) to the first
    row over the seeds both have, with its 95% interval, and the verdict."""
    tail, tail_key = TAIL[task]
    base_name, _, base_runs = rows[0]
    base = per_seed(base_runs, tail_key)
    lines = ['| method | config | ' + ' | '.join(c for c, _ in cols) +
             f' | Δ {tail} vs {base_name} [95% CI] | verdict | seeds | minutes / run |',
             '|---|---|' + '---|' * (len(cols) + 4)]
    for i, (name, config, runs) in enumerate(rows):
        cells = [cell(task, k, runs) for _, k in cols]
        diff = paired_by_seed(per_seed(runs, tail_key), base) if i else None
        if i == 0:
            delta, verdict = '—', 'baseline'
        elif diff is None:
            delta, verdict = '-', '-'
        else:
            delta = diff.format(scale(task, tail_key))
            verdict = {'higher': f'above {base_name}', 'lower': f'below {base_name}'}.get(
                diff.verdict, 'one seed: no interval' if diff.n < 2 else diff.verdict)
        minutes = [m['minutes'] for m in runs.values() if 'minutes' in m]
        minutes = f'{sum(minutes) / len(minutes):.1f}' if minutes else '-'
        lines.append(f'| {name} | `{osp.basename(config)}` | ' + ' | '.join(cells) +
                     f' | {delta} | {verdict} | {len(runs)} | {minutes} |')
    return '\n'.join(lines)


def runs_csv(rows: Sequence[Tuple[str, str, Runs]], cols: Sequence[Tuple[str, str]]) -> str:
    """One csv line per (row, seed): method, config, seed, every column's metric, minutes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['method', 'config', 'seed'] + [k for _, k in cols] + ['minutes'])
    for n, c, r in rows:
        for seed, m in sorted(r.items()):
            writer.writerow([n, c, seed] + [value(m, k) if value(m, k) is not None else ''
                                            for _, k in cols] + [m.get('minutes', '')])
    return buf.getvalue()


def plot(rows: List[Tuple[str, str, Optional[dict]]], path: str) -> bool:
    """Per-class accuracy / AP against training frequency of the finished runs (one PNG);
    ``rows`` = ``[(name, work dir, metrics or None)]``. False when no run is finished."""
    runs = [(n, wd) for n, wd, m in rows if m and osp.isdir(osp.join(wd, 'test'))]
    if not runs:
        return False
    from ..tools.plot_per_class import main as plot_main
    plot_main([*[wd for _, wd in runs], '--labels', *[n for n, _ in runs], '--out', path])
    return True


def machine() -> str:
    """One line naming the machine a run was made on: CPU model, cores, memory, OS, Python,
    torch (and its thread count), read from the running system."""
    import platform

    import torch

    from ..repeatability import processor
    cpu, mem = processor(), ''
    try:
        with open('/proc/meminfo') as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith('MemTotal'))
        mem = f', {kib / 2**20:.0f} GiB memory'
    except (OSError, StopIteration, ValueError):
        pass  # not Linux: the platform module's names
    gpu = (f', GPU {torch.cuda.get_device_name(0)}' if torch.cuda.is_available()
           else ', no GPU')
    threads = torch.get_num_threads()
    return (f'{cpu}, {os.cpu_count()} logical CPUs{mem}{gpu}; {platform.system()} '
            f'{platform.release()}, Python {platform.python_version()}, torch '
            f'{torch.__version__} ({threads} thread{"s" if threads > 1 else ""} per process)')


def commit(root: str) -> str:
    """The checkout's commit (short hash, '+ local changes' when the tree differs), or
    'unknown' outside a git checkout."""
    import subprocess
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=root, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return head + (' + local changes' if dirty.strip() else '')


def page(title: str, command: str, facts: Sequence[Tuple[str, str]], body: str) -> str:
    """A report page: the title, the command that made it, a list of ``(fact, value)`` (date,
    machine, commit, wall time, ...) and the body (tables, plots)."""
    lines = [f'# {title}', '', 'Made by', '', '```bash', command, '```', '']
    lines += [f'- **{k}**: {v}' for k, v in facts] + ['', body.rstrip(), '']
    return '\n'.join(lines)


#: (section, method, config) -> {column: cell}
Tables = Dict[Tuple[str, str, str], Dict[str, str]]


def _cells(line: str) -> List[str]:
    return [c.strip() for c in line.strip().strip('|').split('|')]


def results_tables(text: str, source: str = 'page') -> Tables:
    """The rows of every results table (:func:`table`) of a report page's text (:func:`page`,
    a ``## <task> — <tier>: ...`` section per table); ``source`` names the page in errors.
    ValueError for a row with another number of cells than its header, or a row key that
    occurs twice."""
    rows: Tables = {}
    section, header = '', None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith('## '):
            # the task and tier; the explanation after ':' may be reworded between pages
            section, header = line[3:].split(':', 1)[0].strip(), None
        elif not line.startswith('|'):
            header = None
        elif header is None:
            cells = _cells(line)
            header = cells if cells[:2] == ['method', 'config'] else []
        elif header and not set(line) <= set('|-: '):
            cells = _cells(line)
            if len(cells) != len(header):
                raise ValueError(f'{source}:{number}: {len(cells)} cells under a header of '
                                 f'{len(header)}')
            key = (section, cells[0], cells[1])
            if key in rows:
                raise ValueError(f'{source}:{number}: row {cells[0]!r} ({cells[1]}) twice in '
                                 f'{section!r}')
            rows[key] = dict(zip(header, cells))
    return rows


def page_facts(text: str) -> Dict[str, str]:
    """The facts of a report page's text (:func:`page`): its ``- **fact**: value`` lines (date,
    commit, seeds, ...) and, as ``command``, the line of its ``bash`` block ('' if none)."""
    facts = dict(re.findall(r'^- \*\*([a-z ]+)\*\*: (.*)$', text, flags=re.M))
    command = re.search(r'```bash\n(.*?)\n', text)
    facts['command'] = command.group(1) if command else ''
    return facts
