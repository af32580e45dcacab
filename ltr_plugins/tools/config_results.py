"""The measured results of the demo configs, in their folders' ``README.md`` and
``metafile.yml``, written from one report page of ``tools/benchmark_lt.py --report``: the
numbers live in the report, the config folders show them and say where they come from.

    python tools/analysis/config_results.py docs/benchmarks/full_det14_demo.md          # write
    python tools/analysis/config_results.py docs/benchmarks/full_det14_demo.md --check  # compare

Every row of the page's results tables (as ``compare_reports`` reads them) whose config is a
demo config of ``configs/<folder>/demo/`` goes to that folder:

* ``README.md``: the text between :data:`BEGIN` and :data:`END` becomes one table per report
  section (task and tier) with the folder's rows: mean ± std over the seeds, the paired Δ of
  the tail metric with its 95% interval and the verdict, exactly as the page prints them, and
  what the page was made by (command, date, commit, seeds).
* ``metafile.yml``: the ``Results`` of a demo model are the means of its **end-to-end** row
  (the config trained, or post-hoc tested, as it is), in mmdet's metric names; a demo model
  without an end-to-end row has no ``Results`` (its shared-backbone row retrains only its
  classifier on the CE model: another run than ``tools/train.py CONFIG``, so it stays in the
  README table). ``Paper Results`` and everything else is kept; the file is re-serialised
  (its leading comment block kept).

``--check`` changes nothing and exits 1 naming every file that differs from what the page
gives (the test suite runs it on the committed page). A row whose config file is not a demo
config of exactly one folder is an error naming the page and the config.
"""
from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from ..benchmarking.report import Tables, page_facts, results_tables

ROOT = Path(__file__).resolve().parents[2]
BEGIN = '<!-- config_results: begin (written by tools/analysis/config_results.py) -->'
END = '<!-- config_results: end -->'
#: the README prose width (tables are not wrapped)
WIDTH = 100
#: report columns that are not metrics
NOT_METRICS = ('method', 'config', 'verdict', 'seeds', 'minutes / run')
#: the end-to-end tier's section names end so (``<task> — end-to-end tier``)
END_TO_END = 'end-to-end tier'
#: report column -> metafile metric, per task of a section (mmdet / mmpretrain metafile names)
METAFILE_METRICS = {
    'Classification': [('Image Classification', {'top-1': 'Top 1 Accuracy', 'many': 'Many',
                                                 'medium': 'Medium', 'few': 'Few'})],
    'Instance segmentation': [('Object Detection', {'box AP': 'box AP'}),
                              ('Instance Segmentation', {'AP': 'mask AP', 'APr': 'APr',
                                                         'APc': 'APc', 'APf': 'APf'})],
}
DATASETS = {'Classification': 'embedded long-tailed classification data ({} preset)',
            'Instance segmentation': 'embedded LVIS-format data ({} preset)'}


def demo_configs(root: Path) -> Dict[str, Path]:
    """``{file name: path}`` of every demo config (``configs/<folder>/demo/*.py``); ValueError
    for a file name in two folders (a report names configs by file name)."""
    found: Dict[str, Path] = {}
    for path in sorted((root / 'configs').glob('*/demo/*.py')):
        if path.name in found:
            raise ValueError(f'demo config {path.name} is in two folders: '
                             f'{found[path.name].relative_to(root)}, {path.relative_to(root)}')
        found[path.name] = path
    return found


def _task(section: str) -> str:
    """The task of a report section (``'<task> — <tier>'``), as :data:`METAFILE_METRICS` names
    it."""
    task = section.split(' — ')[0]
    for known in METAFILE_METRICS:
        if task.startswith(known):
            return known
    raise ValueError(f'report section {section!r}: unknown task '
                     f'(known: {sorted(METAFILE_METRICS)})')


def mean_of(cell: str) -> float:
    """The mean of a ``'mean ± std'`` cell (or of a lone number)."""
    m = re.fullmatch(r'\s*(-?\d+(?:\.\d+)?)(?:\s*±\s*\d+(?:\.\d+)?)?\s*', cell)
    if not m:
        raise ValueError(f'not a "mean ± std" cell: {cell!r}')
    return float(m.group(1))


def preset_of(facts: Dict[str, str], source: str) -> str:
    """The embedded data preset a page was made on (its ``data`` fact: "embedded `demo`
    preset ..."); ValueError naming ``source`` if the page does not say."""
    found = re.search(r'`(\w+)` preset', facts.get('data', ''))
    if not found:
        raise ValueError(f'{source}: no "- **data**: embedded `<preset>` preset" line')
    return found.group(1)


def rows_by_folder(tables: Tables, source: str, root: Path
                   ) -> Dict[str, List[Tuple[str, str, Dict[str, str]]]]:
    """``{folder: [(section, config file name, row)]}``, in the page's order."""
    configs = demo_configs(root)
    folders: Dict[str, list] = {}
    for (section, _, config), row in tables.items():
        name = config.strip('`')
        if name not in configs:
            raise ValueError(f'{source}: section {section!r} names {name}, which is no demo '
                             'config (configs/<folder>/demo/)')
        folder = configs[name].parent.parent.name
        folders.setdefault(folder, []).append((section, name, row))
    return folders


def readme_section(page: str, facts: Dict[str, str],
                   rows: Sequence[Tuple[str, str, Dict[str, str]]]) -> str:
    """The README text between :data:`BEGIN` and :data:`END` for a folder's ``rows``."""
    link = f'../../{page}'
    intro = (
        f'Mean ± std over seeds {facts.get("seeds", "?").split(" (")[0]} of '
        f'[{Path(page).name}]({link}) (embedded `{preset_of(facts, page)}` data, '
        f'{facts.get("date", "?")}, commit '
        f'{facts.get("commit", "?")}), made by `{facts["command"]}`. Δ is the paired difference '
        'of the tail metric (few / APr) to the row the column names, over the same seeds, with '
        'its 95% interval; the verdict calls a row above or below only where the interval '
        'excludes zero. End-to-end tier: the config trained (or, post-hoc, tested) as it is; '
        "shared-backbone tier: only its classifier retrained on the seed's frozen end-to-end "
        'CE model. The embedded data are small: these numbers check directions, they are not '
        'the papers\' real-data results.')
    lines = textwrap.wrap(intro, WIDTH, break_long_words=False, break_on_hyphens=False)
    by_section: Dict[str, list] = {}
    for section, name, row in rows:
        by_section.setdefault(section, []).append((name, row))
    for section, members in by_section.items():
        header = [c for c in members[0][1] if c not in NOT_METRICS]
        lines += ['', f'**{section}**', '',
                  '| config | method | ' + ' | '.join(header) + ' | verdict |',
                  '|---|---|' + '---|' * len(header) + '---|']
        for name, row in members:
            lines.append(f'| [demo/{name}](demo/{name}) | {row["method"]} | ' +
                         ' | '.join(row[c] for c in header) + f' | {row["verdict"]} |')
    return '\n'.join(lines)


def replace_between(text: str, body: str, source: str) -> str:
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by ``body``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f'{source}: expected one "{BEGIN}" line before one "{END}" line')
    head, rest = text.split(BEGIN, 1)
    return f'{head}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}'


def metafile_results(tables: Tables, preset: str) -> Dict[str, list]:
    """``{config file name: metafile Results}`` of the end-to-end rows of ``tables``, made on
    the embedded ``preset``."""
    results: Dict[str, list] = {}
    for (section, _, config), row in tables.items():
        if not section.endswith(END_TO_END):
            continue
        task = _task(section)
        results[config.strip('`')] = [
            {'Task': kind, 'Dataset': DATASETS[task].format(preset),
             'Metrics': {name: mean_of(row[column]) for column, name in metrics.items()}}
            for kind, metrics in METAFILE_METRICS[task]]
    return results


def updated_metafile(text: str, results: Dict[str, list]) -> str:
    """``text`` (a metafile) with every demo model's ``Results`` set from ``results`` (removed
    where it has none)."""
    comments = ''.join(line for line in text.splitlines(True) if line.startswith('#'))
    meta = yaml.safe_load(text)
    for model in meta['Models']:
        if '/demo/' not in model['Config']:
            continue
        found = results.get(Path(model['Config']).name)
        model.pop('Results', None)
        if found:
            model['Results'] = found
    return comments + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)


def expected_files(page: str, root: Path) -> Dict[Path, str]:
    """``{file: the text it should have}`` of every README and metafile of a folder with demo
    configs, from the report ``page`` (a path relative to ``root``)."""
    text = (root / page).read_text(encoding='utf-8')
    tables, facts = results_tables(text, page), page_facts(text)
    by_folder = rows_by_folder(tables, page, root)
    results = metafile_results(tables, preset_of(facts, page))
    files: Dict[Path, str] = {}
    for folder in sorted({p.parent.parent.name for p in demo_configs(root).values()}):
        readme, metafile = (root / 'configs' / folder / n for n in ('README.md', 'metafile.yml'))
        if folder in by_folder:
            body = readme_section(page, facts, by_folder[folder])
        else:
            body = f'No demo config of this folder is in [{Path(page).name}](../../{page}).'
        files[readme] = replace_between(readme.read_text(encoding='utf-8'), body,
                                        str(readme.relative_to(root)))
        files[metafile] = updated_metafile(metafile.read_text(encoding='utf-8'), results)
    return files


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI (module docstring): write the files, or with ``--check`` name those that differ."""
    parser = argparse.ArgumentParser(
        description='Write the demo configs\' results into configs/*/README.md and '
                    'metafile.yml from a report page of tools/benchmark_lt.py --report.')
    parser.add_argument('page', help='the report, relative to the checkout, e.g. '
                        'docs/benchmarks/full_det14_demo.md')
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 naming the files that differ')
    args = parser.parse_args(argv)
    if not (ROOT / args.page).is_file():
        parser.error(f'{args.page}: no such report page under {ROOT}')
    stale = []
    for path, text in expected_files(args.page, ROOT).items():
        if path.read_text(encoding='utf-8') != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(text, encoding='utf-8')
    verb = 'differ from' if args.check else 'written from'
    for path in stale:
        print(f'{path}: {verb} {args.page}')
    print(f'{len(stale)} file(s) {verb} {args.page}')
    return 1 if args.check and stale else 0


if __name__ == '__main__':
    sys.exit(main())
