"""Whole-detector cost of the LVIS Mask R-CNN configs against the stock one, in one run.

    python tools/benchmark_detector.py [--repeats 2] [--warmup 1] [--size 512]
    python tools/benchmark_detector.py --smoke     # 8 classes, 128 px, seconds (CI)

What is measured and how: :mod:`ltr_plugins.benchmarking.detector`.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Optional, Sequence

import torch

from ..benchmarking.detector import CASES, CPU, build, synthetic_batch
from ..benchmarking.overhead import timed
from ..benchmarking.suites import ROOT
from ..fileio import atomic_write_text


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Time every case, write ``detector.md`` under ``--out``; returns (and prints) the
    markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=2, help='measured rounds (median)')
    parser.add_argument('--warmup', type=int, default=1, help='unmeasured rounds first')
    parser.add_argument('--images', type=int, default=2, help='images per step')
    parser.add_argument('--size', type=int, default=512, help='image side in px')
    parser.add_argument('--objects', type=int, default=8, help='ground-truth objects per image')
    parser.add_argument('--cases', nargs='+', default=None,
                        help='only these case names (the stock detector is always measured)')
    parser.add_argument('--smoke', action='store_true',
                        help='8 classes, 128 px, 1 round: checks that every case runs (CI)')
    parser.add_argument('--out', default=osp.join(ROOT, 'work_dirs', 'benchmark'),
                        help='writes detector.md here')
    args = parser.parse_args(argv)
    from mmengine.optim import OptimWrapper
    num_classes = 8 if args.smoke else 1203
    if args.smoke:
        args.repeats, args.warmup, args.size = 1, 0, 128
    torch.manual_seed(0)
    batch = synthetic_batch(args.images, args.size, args.objects, num_classes,
                            torch.Generator().manual_seed(0))
    cases = [c for c in CASES if args.cases is None or c[0] in args.cases or c is CASES[0]]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, config, options in cases:
            model = build(config, options, num_classes, tmp)
            optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-5))
            runs.append(dict(name=name, config=config, model=model, optim=optim,
                             train=[], infer=[]))
        for r in range(args.warmup + args.repeats):
            for run in runs:  # round-robin: load drift hits every config alike
                model = run['model']
                model.train()
                # same seed per round for every config: the same RPN anchors and RoIs sampled
                torch.manual_seed(1000 + r)
                t = timed(lambda: model.train_step(batch, run['optim']), CPU)
                model.eval()
                with torch.no_grad():
                    i = timed(lambda: model.test_step(batch), CPU)
                if r >= args.warmup:
                    run['train'].append(t)
                    run['infer'].append(i)
            print(f'[benchmark_detector] round {r + 1}/{args.warmup + args.repeats}', flush=True)
    t0 = statistics.median(runs[0]['train'])
    i0 = statistics.median(runs[0]['infer'])
    lines = [f'# Whole-detector cost vs the stock Mask R-CNN\n\n`python '
             f'tools/benchmark_detector.py {" ".join(argv if argv is not None else sys.argv[1:])}'
             f'`, {time.strftime("%Y-%m-%d")}, torch {torch.__version__}, '
             f'{torch.get_num_threads()} threads; {args.images} images of {args.size} px, '
             f'{num_classes} classes, random weights; medians of {args.repeats} rounds after '
             f'{args.warmup} warm-up rounds.', '',
             '| config | name | train step s | x stock | inference s | x stock |',
             '|---|---|---|---|---|---|']
    for run in runs:
        t, i = statistics.median(run['train']), statistics.median(run['infer'])
        run.update(train_s=t, infer_s=i, train_ratio=t / t0, infer_ratio=i / i0)
        lines.append(f'| `{osp.basename(run["config"])}` | {run["name"]} | {t:.2f} | '
                     f'{t / t0:.3f} | {i:.2f} | {i / i0:.3f} |')
    text = '\n'.join(lines) + '\n'
    print(text)
    atomic_write_text(osp.join(args.out, 'detector.md'), text)
    return text


if __name__ == '__main__':
    main()
