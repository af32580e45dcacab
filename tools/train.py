"""Train an mmdet or mmpretrain model with ltr_plugins loaded.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher {none,pytorch}]

The config's ``default_scope`` (mmdet / mmpretrain) selects the framework. Configs with an
``embedded_data`` field generate their data set on first use.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

import ltr_plugins  # noqa: E402,F401  (compat fixes + registration)
from ltr_plugins.launch import DictAction, build_runner, enable_amp, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector or classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision training (bf16 on CPU, fp16 + dynamic loss '
                        'scale on GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual batch size '
                        '(config auto_scale_lr.base_batch_size)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or, without a value, from the '
                        'latest checkpoint in the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.backbone.depth=18 '
                        'train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='job launcher; "pytorch" for torchrun (tools/dist_train.sh)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        enable_amp(cfg)
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
