"""Seconds per training step of a config in this process, and the step's gradients: what
``benchmark_lt --jobs`` trades on (docs/benchmarks/README.md, "Jobs").

    python -m ltr_plugins.benchmarking.step_time CONFIG [--checkpoint CKPT] [--steps 10]
                                                 [--grads-out FILE]

The model and the training loader are built as :func:`.flops.built_run` builds them (seeded, no
Runner); the first ``steps + 1`` batches are loaded first, the first batch's step is run once to
warm up, and the next ``steps`` steps (forward, loss and backward, as
:func:`.flops.train_iter_flops`; no optimizer step) are timed. Start several at once to see how
runs share the cores, e.g. on 2 cores::

    for i in 1 2; do OMP_WAIT_POLICY=PASSIVE python -m ltr_plugins.benchmarking.step_time \\
        CONFIG --checkpoint CKPT --grads-out grads_$i.pt & done; wait

``--grads-out`` saves the gradients of the first batch's step (``{parameter name: tensor}``,
``torch.save``), so that runs made alone and side by side can be compared bit for bit. torch's
thread count is ``OMP_NUM_THREADS``, else its default (the physical cores).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Dict, Optional, Sequence

import torch

from .flops import built_run, train_loss


def train_step(model: torch.nn.Module, batch: Any) -> None:
    """Forward, loss and backward of one batch (gradients accumulate in ``.grad``)."""
    train_loss(model, batch).backward()


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Time the steps; print and return ``seconds_per_step``, ``steps``, ``threads`` and
    ``omp_wait_policy``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights to start from (default: initialisation)')
    parser.add_argument('--steps', type=int, default=10, help='steps timed (default 10)')
    parser.add_argument('--grads-out', help='save the first batch\'s gradients here')
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f'--steps {args.steps}: expected at least 1')
    with built_run(args.config, args.checkpoint) as (_, model, train_loader, _):
        if len(train_loader) < args.steps + 1:
            raise ValueError(f'{args.config}: the training loader has {len(train_loader)} '
                             f'batches, --steps {args.steps} needs {args.steps + 1}')
        loader = iter(train_loader)
        batches = [next(loader) for _ in range(args.steps + 1)]
        train_step(model, batches[0])  # warm-up (and any work done once)
        start = time.perf_counter()
        for batch in batches[1:]:
            train_step(model, batch)
        seconds = (time.perf_counter() - start) / args.steps
        if args.grads_out:
            model.zero_grad(set_to_none=True)
            train_step(model, batches[0])
            torch.save({name: p.grad for name, p in model.named_parameters()
                        if p.grad is not None}, args.grads_out)
    result = dict(seconds_per_step=seconds, steps=args.steps, threads=torch.get_num_threads(),
                  omp_wait_policy=os.environ.get('OMP_WAIT_POLICY', 'default (active)'))
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
