"""Train an mmdet or mmpretrain model with ltr_plugins loaded.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--tensorboard]
                                 [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The config's ``default_scope`` (mmdet / mmpretrain) selects the framework. Configs with an
``embedded_data`` field generate their data set on first use.
"""
import argparse
from typing import Optional, Sequence

import ltr_plugins  # noqa: F401  (registration)
from ltr_plugins.compat import apply_tool_fixes
from ltr_plugins.launch import (add_common_args, build_runner, enable_amp, enable_autocast_ops,
                                enable_tensorboard, load_config, parse_tool_args)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of tools/train.py (``--help`` lists every option)."""
    parser = argparse.ArgumentParser(description='Train a detector or classifier')
    parser.add_argument('config', help='train config file path')
    add_common_args(parser, 'the dir to save logs and models')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision training (bf16 on CPU, fp16 + dynamic loss '
                        'scale on GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual batch size '
                        '(config auto_scale_lr.base_batch_size)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or, without a value, from the '
                        'latest checkpoint in the work dir')
    parser.add_argument('--tensorboard', action='store_true',
                        help="also log the scalars to TensorBoard: adds mmengine's "
                        'TensorboardVisBackend to visualizer.vis_backends (events under '
                        '<work_dir>/<timestamp>/vis_data/; needs pip install tensorboard)')
    return parse_tool_args(parser, argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Train CONFIG (see the module docstring)."""
    args = parse_args(argv)
    apply_tool_fixes()  # safe checkpoint loading, atomic checkpoint writes, ltr_plugins:: names
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.tensorboard:
        enable_tensorboard(cfg)
    if args.amp:
        enable_amp(cfg)
    enable_autocast_ops(cfg)  # mmcv's float32-only CPU ops, if the run uses CPU autocast
    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
            raise RuntimeError(f'{args.config}: --auto-scale-lr needs auto_scale_lr.'
                               'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
