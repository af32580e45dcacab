"""Two report pages of ``tools/benchmark_lt.py --report``, cell by cell: does a rerun give the
published numbers?

    python tools/analysis/compare_reports.py docs/benchmarks/full_demo.md my_full.md

Every results table of a page (a ``## <task> — <tier>`` section's table whose header starts
``| method | config |``) is read; a row is keyed by its section, method and config, so rows
match across pages whatever their order. For each row both pages have, every column both have
is compared as text (the pages print mean ± std, intervals and verdicts rounded the same way),
except ``--ignore`` (default: ``minutes / run``, which no rerun repeats); ``--columns`` compares
only the columns named. Prints the differing cells, the rows only one page has, and a count;
exit status 1 when a shared cell differs (as ``diff``), 0 otherwise. Runs are deterministic per
machine type and thread count (docs/reliability.md), so a rerun on the machine type of a report
should differ nowhere; on another machine type the digits move, and ``--columns verdict`` asks
whether the claims still hold.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..benchmarking.report import Tables, results_tables

#: columns a rerun does not repeat
IGNORED = ('minutes / run',)


def compare(old: Tables, new: Tables, ignore: Sequence[str] = IGNORED,
            columns: Optional[Sequence[str]] = None
            ) -> Tuple[List[Tuple[str, str, str, str, str]], List[tuple], List[tuple], int]:
    """``(differences, only_old, only_new, equal)``: each difference is ``(section, method,
    column, old cell, new cell)`` of a row both have; ``only_*`` are the row keys one side
    lacks; ``equal`` counts the equal compared cells. ``columns``: compare only these (None:
    every column both rows have), ``ignore`` never."""
    differences, equal = [], 0
    for key in (k for k in old if k in new):
        for column, cell in old[key].items():
            if (column in ignore or column not in new[key]
                    or (columns is not None and column not in columns)):
                continue
            if cell == new[key][column]:
                equal += 1
            else:
                differences.append((key[0], key[1], column, cell, new[key][column]))
    return (differences, [k for k in old if k not in new], [k for k in new if k not in old],
            equal)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI (module docstring): print the differing cells; 1 when a shared cell differs."""
    parser = argparse.ArgumentParser(
        description='Compare two report pages of tools/benchmark_lt.py --report cell by cell '
                    '(exit status 1 when a cell of a row both have differs).')
    parser.add_argument('old', help='the reference page, e.g. docs/benchmarks/full_demo.md')
    parser.add_argument('new', help='the page of the rerun')
    parser.add_argument('--ignore', nargs='*', default=list(IGNORED), metavar='COLUMN',
                        help=f'columns not compared (default: {", ".join(IGNORED)})')
    parser.add_argument('--columns', nargs='+', metavar='COLUMN',
                        help='compare only these columns (e.g. verdict); default: all')
    args = parser.parse_args(argv)
    old, new = (results_tables(Path(p).read_text(), p) for p in (args.old, args.new))
    if args.columns:
        known = {c for rows in (old, new) for row in rows.values() for c in row}
        unknown = [c for c in args.columns if c not in known]
        if unknown:
            parser.error(f'--columns: no results table of either page has {unknown}; '
                         f'columns: {sorted(known)}')
    differences, only_old, only_new, equal = compare(old, new, args.ignore, args.columns)
    if differences:
        print('| table | method | column | ' + f'{args.old} | {args.new} |\n|---|---|---|---|---|')
        for section, method, column, a, b in differences:
            print(f'| {section} | {method} | {column} | {a} | {b} |')
    for side, keys in ((args.old, only_old), (args.new, only_new)):
        for section, method, config in keys:
            print(f'only in {side}: {section} | {method} ({config})')
    print(f'{len(old) - len(only_old)} rows in both: {equal} cells equal, '
          f'{len(differences)} differ')
    return 1 if differences else 0


if __name__ == '__main__':
    sys.exit(main())
