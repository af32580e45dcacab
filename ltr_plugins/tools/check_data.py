"""Check a config's data layout before a long run (``ltr-check-data``).

    python tools/check_data.py CONFIG [--max-images N] [--quick] [--cfg-options k=v ...]

Reports where the config's variables point (``data_root`` ...), every dataset of the train /
val / test dataloaders with its annotation file, image folder, image / annotation / class
counts and the top-level folders its images are in, checks that every image file exists (all,
or ``--max-images`` evenly spaced ones per dataset), compares the class list with the packaged
tables (LVIS v1 / v0.5 categories, ImageNet-LT / Places-LT training counts) and checks the
other files the run reads (evaluator annotation files, VL-LTR anchors / class texts / class
names, text-encoder checkpoints, ``load_from``). Every missing file is named. Exit status 0 when
the layout is complete, 1 otherwise. Writes nothing (embedded data not generated yet is
reported, not generated). The LVIS v1 training json is about 1 GB: parsing it takes a while
(``--quick`` skips it). Layouts: docs/datasets.md.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from ltr_plugins.datasets.layout_check import check_layout
from ltr_plugins.launch import DictAction, load_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of tools/check_data.py (``--help`` lists every option)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='config file or ltr_plugins::<name>')
    p.add_argument('--max-images', type=int, default=None,
                   help='check at most N images per dataset, evenly spaced (default: all)')
    p.add_argument('--quick', action='store_true',
                   help='only check that files and folders exist (the check tools/train.py '
                   'runs); do not read annotation files')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, e.g. data_root=/data/lvis_v1/')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the layout report of CONFIG; 0 when complete, 1 when something is missing."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    skip, note = [], None
    spec = cfg.get('embedded_data')
    if spec and not osp.isfile(osp.join(spec['root'], 'generator.json')):
        skip = [spec['root']]
        note = (f'embedded data under {spec["root"]} is not generated yet: tools/train.py and '
                'tools/test.py generate it on first use (files under it are not checked)')
    report = check_layout(cfg, full=not args.quick, max_images=args.max_images,
                          skip_under=skip)
    if note:
        report.warnings.append(note)
    print(report.format())
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
