"""One benchmark run in one process: ``tools/train.py`` then ``tools/test.py`` on the last
checkpoint, as :class:`ltr_plugins.benchmarking.runner.Bench` runs a row.

    python -m ltr_plugins.benchmarking.train_test CONFIG --work-dir DIR --metrics-out FILE
                                                  [--cfg-options k=v ...]

Both steps are the tools' own ``main``; the test builds its runner afresh from the config and
the checkpoint file, so its metrics are those of a separate ``tools/test.py`` call. One process
instead of two saves an interpreter start-up with the mm* imports (6-7 s on 2 cores) per run,
which is a tenth of a shared-tier classification run.
"""
import argparse
import gc
import os.path as osp
from typing import Optional, Sequence

from ..tools import test, train


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Train, then test the last checkpoint; returns the test metrics."""
    parser = argparse.ArgumentParser(description='Train CONFIG, then test its last checkpoint')
    parser.add_argument('config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--metrics-out', required=True)
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='training only (e.g. load_from=CKPT)')
    args = parser.parse_args(argv)
    train.main([args.config, '--work-dir', args.work_dir,
                *(['--cfg-options', *args.cfg_options] if args.cfg_options else [])])
    gc.collect()  # the training runner's dataloader workers end before the test starts its own
    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    return test.main([args.config, checkpoint, '--work-dir', args.work_dir,
                      '--metrics-out', args.metrics_out])


if __name__ == '__main__':
    main()
