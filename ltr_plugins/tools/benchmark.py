"""Cost of every head in the package against the stock mmpretrain / mmdet head, in one run.

    python tools/benchmark.py [--tasks cls det] [--repeats 20] [--out work_dirs/benchmark]
    python tools/benchmark.py --smoke          # tiny sizes, seconds (CI)

What is measured and how: :mod:`ltr_plugins.benchmarking.overhead` (to add a head: add a
function to its ``CLS_CASES`` / ``DET_CASES``).
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Optional, Sequence

import torch

from ..benchmarking.overhead import (Env, build_cls_cases, build_det_cases, report, rest_of_model,
                                     timed, to_markdown)
from ..benchmarking.suites import ROOT
from ..fileio import atomic_write_text


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Measure the cases, write ``overhead.md`` / ``overhead.csv`` under ``--out``; returns
    (and prints) the markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tasks', nargs='+', default=['cls', 'det'], choices=['cls', 'det'])
    parser.add_argument('--heads', nargs='+', default=None,
                        help='only these case names (the stock head is always measured)')
    parser.add_argument('--repeats', type=int, default=20, help='measured rounds (median)')
    parser.add_argument('--warmup', type=int, default=3, help='unmeasured rounds first')
    parser.add_argument('--cls-batch', type=int, default=16, help='images per cls step')
    parser.add_argument('--det-images', type=int, default=2, help='images per det step')
    parser.add_argument('--no-rest', action='store_true',
                        help='skip timing the shared backbone (no whole-step ratio)')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny sizes and 2 rounds: checks that every case runs (CI)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default=osp.join(ROOT, 'work_dirs', 'benchmark'),
                        help='writes overhead.md and overhead.csv here')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.smoke:
        args.repeats, args.warmup, args.no_rest = 2, 1, True
    sections, all_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            if task == 'cls':
                k, c = (10, 32) if args.smoke else (1000, 2048)
                env = Env(k, c, tmp, args.smoke)
                batch = 4 if args.smoke else args.cls_batch
                cases = build_cls_cases(env, batch, device, args.heads)
                sizes = f'batch {batch}, {c}x7x7 features, {k} classes'
            else:
                k, c = (10, 16) if args.smoke else (1203, 256)
                env = Env(k, c, tmp, args.smoke)
                rois, props = (16, 20) if args.smoke else (512, 1000)
                cases = build_det_cases(env, args.det_images, rois, props, device, args.heads)
                sizes = (f'{args.det_images} images x {rois} sampled RoIs (train) / {props} '
                         f'proposals (test), {c}x7x7 RoI features, {k} classes')
            for case in cases:
                case.measure_memory(device)
            for r in range(args.warmup + args.repeats):
                for case in cases:  # round-robin: load drift hits every case alike
                    t = timed(case.train_step, device)
                    i = timed(case.infer, device)
                    if r >= args.warmup:
                        case.train_times.append(t)
                        case.infer_times.append(i)
                print(f'[benchmark] {task} round {r + 1}/{args.warmup + args.repeats}',
                      flush=True)
            rest = None if args.no_rest else rest_of_model(
                task, batch if task == 'cls' else args.det_images, device,
                max(3, args.repeats // 5))
            rows = report(task, cases, rest, device)
            all_rows += rows
            sections.append(to_markdown(task, rows, rest, device, sizes))
    text = (f'# Head overhead vs the stock heads\n\n`python tools/benchmark.py '
            f'{" ".join(argv if argv is not None else sys.argv[1:])}`, '
            f'{time.strftime("%Y-%m-%d")}, torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads; medians of {args.repeats} rounds after '
            f'{args.warmup} warm-up rounds.\n\n' + '\n\n'.join(sections) + '\n')
    print(text)
    keys = list(all_rows[0].keys()) + [k for k in ('step_ratio', 'infer_step_ratio')
                                       if k not in all_rows[0]]
    csv_lines = [','.join(keys)] + [','.join(
        f'"{r.get(k, "")}"' if k == 'head' else (f'{r[k]:.6g}' if k in r and isinstance(
            r[k], float) else str(r.get(k, ''))) for k in keys) for r in all_rows]
    atomic_write_text(osp.join(args.out, 'overhead.md'), text)
    atomic_write_text(osp.join(args.out, 'overhead.csv'), '\n'.join(csv_lines) + '\n')
    return text


if __name__ == '__main__':
    main()
