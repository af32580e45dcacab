"""Train and test the demo configs on the embedded long-tailed data (the README's main job).

    ltr-demo [--tasks cls det] [--work-dir work_dirs]

``bash tools/demo.sh`` installs the stack, then runs this (``python -m ltr_plugins.tools.demo``).
The data are generated under ``./data/demo`` on first use; results are printed and logged under
``<work-dir>/demo_<task>``. At the end each task's test metrics are printed next to the demo
baseline's spread over training seeds (:data:`DEMO_SPREAD`), against which a run on another
machine is read: from-scratch training on these small data moves with the processor as much
as with the seed (docs/reliability.md, "Spread across seeds and machines").
"""
import argparse
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

#: the demo config of each task (shipped config names)
DEMO_CONFIGS = {
    'cls': 'ltr_plugins::baselines/demo/convnet_1xb64-30e_demo-cls.py',
    'det': 'ltr_plugins::baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py',
}


class Spread(NamedTuple):
    """A demo baseline's test metrics over training seeds, as a benchmark report tables them.

    ``columns``: ``(column of the report's table, metric key of tools/test.py, scale to the
    report's unit, mean, std)``; ``row``: the table row (method name) they are copied from."""
    report: str
    row: str
    seeds: int
    columns: Tuple[Tuple[str, str, float, float, float], ...]


#: Each demo config's spread over seeds on a 2-core CPU, copied from its report (the repository
#: path); tests/tools/test_demo.py checks every number against that report.
DEMO_SPREAD: Dict[str, Spread] = {
    'cls': Spread('docs/benchmarks/shared_b16_demo.md', 'CE (linear)', 6, (
        ('top-1', 'accuracy/top1', 1, 53.5, 10.5),
        ('many', 'accuracy/many', 1, 91.7, 5.1),
        ('medium', 'accuracy/medium', 1, 67.3, 19.4),
        ('few', 'accuracy/few', 1, 7.1, 8.5))),
    'det': Spread('docs/benchmarks/quick_det14_6seeds.md', 'CE (linear)', 6, (
        ('AP', 'lvis/segm_AP', 100, 17.9, 1.5),
        ('APr', 'lvis/segm_APr', 100, 0.6, 0.6),
        ('APc', 'lvis/segm_APc', 100, 19.7, 1.4),
        ('APf', 'lvis/segm_APf', 100, 33.4, 3.5),
        ('box AP', 'lvis/bbox_AP', 100, 29.2, 2.8))),
}
#: a run is called inside the spread within this many standard deviations of the seeds' mean
WITHIN_STD = 2.0


def spread_report(task: str, metrics: Dict[str, float]) -> str:
    """``metrics`` (of ``tools/test.py`` on the ``task`` demo config) next to the demo's spread
    over seeds, one line per report column: this run, mean ± std, and whether the run is within
    :data:`WITHIN_STD` standard deviations of the mean. Raises ``KeyError`` naming a metric
    the run lacks."""
    spread = DEMO_SPREAD[task]
    lines = [f'demo {task}: this run against {spread.row} over {spread.seeds} seeds '
             f'({spread.report}; within {WITHIN_STD:g} std = inside the spread)']
    outside = []
    for column, key, scale, mean, std in spread.columns:
        if key not in metrics:
            raise KeyError(f'demo {task}: the test metrics have no {key!r} '
                           f'(has: {sorted(metrics)})')
        value = metrics[key] * scale
        where = 'inside' if abs(value - mean) <= WITHIN_STD * std else 'outside'
        if where == 'outside':
            outside.append(column)
        lines.append(f'  {column:<7} {value:6.1f}   {mean:5.1f} ± {std:4.1f}   {where}')
    if outside:  # a broken install or data set shows here first; so can an unlucky processor
        lines.append(f'  {", ".join(outside)} outside the spread: check the data and the stack '
                     '(docs/troubleshooting.md), then compare over seeds (docs/reliability.md)')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    """Train each task's demo config, then test its last checkpoint; the test metrics."""
    from .test import main as test_main
    from .train import main as train_main
    parser = argparse.ArgumentParser(
        prog='ltr-demo', description='Train + test the demo configs on the embedded '
        'long-tailed data (generated under ./data/demo on first use); results are printed and '
        'logged under --work-dir, then each next to the demo baseline\'s spread over seeds.')
    parser.add_argument('--tasks', nargs='+', choices=sorted(DEMO_CONFIGS),
                        default=['cls', 'det'], help='cls: classifier (~5 min on 2 CPU '
                        'cores), det: Mask R-CNN (~11 min)')
    parser.add_argument('--work-dir', default='work_dirs',
                        help='runs go to <work-dir>/demo_<task>')
    args = parser.parse_args(argv)
    results = []
    for task in args.tasks:
        work_dir = osp.join(args.work_dir, f'demo_{task}')
        train_main([DEMO_CONFIGS[task], '--work-dir', work_dir])
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        results.append(test_main([DEMO_CONFIGS[task], checkpoint, '--work-dir', work_dir]))
    for task, metrics in zip(args.tasks, results):
        print(spread_report(task, metrics), flush=True)
    return results


if __name__ == '__main__':
    main()
