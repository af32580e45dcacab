"""Evaluate a checkpoint: LVIS AP / AP50 / AP75 / APr / APc / APf (segm + bbox) for mmdet
configs, top-1 overall and many / medium / few for mmpretrain configs.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
                                           [--launcher {none,pytorch}]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

import ltr_plugins  # noqa: E402,F401  (compat fixes + registration)
from ltr_plugins.launch import (DictAction, build_runner, format_results, load_config,  # noqa: E402
                                write_json_atomic)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation logs '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. test_dataloader.batch_size=4')
    parser.add_argument('--metrics-out', help='also write the metrics as json to this file')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='job launcher; "pytorch" for torchrun (tools/dist_test.sh)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    runner = build_runner(cfg)
    metrics = runner.test()
    if runner.rank == 0:
        print(format_results(metrics), flush=True)
        if args.metrics_out:
            write_json_atomic(args.metrics_out, metrics)
    return metrics


if __name__ == '__main__':
    main()
