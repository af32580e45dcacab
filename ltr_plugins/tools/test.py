"""Evaluate a checkpoint: LVIS AP / AP50 / AP75 / APr / APc / APf (segm + bbox) for mmdet
configs, top-1 overall and many / medium / few for mmpretrain configs.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR [--score-thr T]]
                                           [--out FILE.pkl [--out-item {pred,metrics}]]
                                           [--cfg-options k=v ...]
                                           [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
from typing import Optional, Sequence

import ltr_plugins  # noqa: F401  (registration)
from ltr_plugins.compat import apply_tool_fixes
from ltr_plugins.dump import add_dump_results, check_checkpoint_path, check_out_args, dump_metrics
from ltr_plugins.fileio import atomic_write_json
from ltr_plugins.launch import (add_common_args, build_runner, check_checkpoint_fits,
                                enable_show_dir, format_results, load_config, parse_tool_args)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of tools/test.py (``--help`` lists every option)."""
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file or http(s):// URL (downloaded once '
                        'into $TORCH_HOME/hub/checkpoints, as in mmdet)')
    add_common_args(parser, 'the dir to save the evaluation logs')
    parser.add_argument('--metrics-out', help='also write the metrics as json to this file')
    parser.add_argument('--out', help='dump every test prediction to this pickle file (.pkl) for '
                        "offline evaluation (mmdet's DumpDetResults / mmengine's DumpResults)")
    parser.add_argument('--out-item', choices=['pred', 'metrics'],
                        help='with --out: "pred" (default) the predictions, "metrics" the '
                        "metrics dict (mmpretrain's option; format from the suffix)")
    parser.add_argument('--show-dir', help='draw the predictions of every test image and save '
                        "them in this directory, one file per image (detection: mmdet's "
                        'DetVisualizationHook, a relative DIR goes under '
                        "<work_dir>/<timestamp>/; classification: mmpretrain's "
                        'VisualizationHook, DIR as given)')
    parser.add_argument('--score-thr', type=float, default=None,
                        help='detection: minimum score of a drawn prediction with --show-dir '
                        '(default: the hook\'s, 0.3)')
    return parse_tool_args(parser, argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Test CHECKPOINT with CONFIG's test set; returns the metrics (rank 0 prints them)."""
    args = parse_args(argv)
    apply_tool_fixes()  # safe checkpoint loading, atomic checkpoint writes, ltr_plugins:: names
    check_out_args(args.out, args.out_item)
    check_checkpoint_path(args.checkpoint)  # a local file must exist; URLs are downloaded
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir, args.score_thr)
    runner = build_runner(cfg)
    # a checkpoint of another head would only get mmengine's warning: refuse it
    check_checkpoint_fits(runner.model, args.checkpoint)
    if args.out and args.out_item != 'metrics':
        add_dump_results(runner, args.out)
    metrics = runner.test()
    if runner.rank == 0:
        print(format_results(metrics), flush=True)
        if args.metrics_out:
            atomic_write_json(args.metrics_out, metrics)
        if args.out and args.out_item == 'metrics':
            dump_metrics(metrics, args.out)
    return metrics


if __name__ == '__main__':
    main()
