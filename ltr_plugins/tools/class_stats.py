"""Per-class statistics and IIF weights of a training set, written to a csv.

    python tools/analysis/class_stats.py ANN_FILE --out stats.csv [--variants raw smooth ...]
        [--plot histogram.png] [--format {auto,lvis,mmpretrain,csv}] [--classes classes.txt]
        [--num-images N]
        [--p-norm P] [--clamp-negative] [--on-mismatch {error,warn}]
        [--split-rule {inclusive,exclusive}]

ANN_FILE is an LVIS / COCO json, an mmpretrain annotation list (``path label`` lines), a stats
csv, or one of the packaged tables ``lvis_v1``, ``lvis_v05``, ``imagenet_lt``, ``places_lt``.
The csv (``ClassStats.to_csv`` layout, ``# num_images=N`` first line) holds
``id,name,frequency,image_count,instance_count``, the shot group (many / medium / few) and one
column ``iif_<variant>`` per weight variant, image-level and instance-level (``*_obj``).
``--plot`` also saves the class histogram: training images per class, classes sorted by count
(log y), coloured by many / medium / few, with the LVIS r / c / f boundaries drawn.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import warnings
from collections import Counter
from typing import Dict, List, Optional, Sequence

from ltr_plugins.core.iif import IIF_VARIANTS, iif_weights_from_stats
from ltr_plugins.datasets.class_stats import ClassStats

PACKAGED = ClassStats.PACKAGED_TABLES
#: every distinct formula (``prob`` is an alias of ``rel``), image- then instance-level
DEFAULT_VARIANTS = tuple(v for v in IIF_VARIANTS if not v.startswith('prob'))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of ltr-stats (``--help`` lists every option)."""
    parser = argparse.ArgumentParser(
        description='Write per-class counts, LVIS frequency / shot groups and IIF weights of a '
                    'training set to a csv, and print a summary.')
    parser.add_argument('ann_file', metavar='ANN_FILE',
                        help='training annotations: LVIS/COCO .json, mmpretrain .txt list, '
                             f'stats .csv, or a packaged table: {", ".join(PACKAGED)}')
    parser.add_argument('--out', help='output csv (written atomically); omit to only print '
                                      'the summary')
    parser.add_argument('--variants', nargs='+', choices=IIF_VARIANTS, metavar='VARIANT',
                        help='IIF weight variants to write, one column iif_<variant> each; '
                             '*_obj = instance-level counts. Default: all distinct variants '
                             '(variants undefined for the data, e.g. raw with a zero count, are '
                             f'skipped with a note). Choices: {", ".join(IIF_VARIANTS)}')
    parser.add_argument('--format', default='auto',
                        choices=('auto', 'lvis', 'mmpretrain', 'csv'),
                        help='how to read ANN_FILE; auto: by name (.json -> lvis, .txt -> '
                             'mmpretrain, .csv -> csv, or a packaged table name). Default auto')
    parser.add_argument('--classes', help='mmpretrain: file with one class name per line, in '
                                          'label order (default: numeric names)')
    parser.add_argument('--num-images', type=int,
                        help='csv: number of training images N, when the csv has no '
                             '"# num_images=N" line')
    parser.add_argument('--p-norm', type=float,
                        help='L_p-normalise each weight column (e.g. 1 or 2)')
    parser.add_argument('--clamp-negative', action='store_true',
                        help='clamp negative weights (rel/normit/gombit of very frequent '
                             'classes) to 0; by default they are written as computed, with a '
                             'warning')
    parser.add_argument('--plot', metavar='PNG',
                        help='also save the class histogram (sorted image counts, log y) here')
    parser.add_argument('--split-rule', default='inclusive', choices=('inclusive', 'exclusive'),
                        help='many / medium / few: inclusive = many >= 100, few <= 20 (the '
                             'OLTR / VL-LTR evaluation code); exclusive = many > 100, '
                             'few < 20. Default inclusive')
    parser.add_argument('--on-mismatch', default='error', choices=('error', 'warn'),
                        help='lvis: what to do when a category\'s image_count/instance_count '
                             'disagrees with its annotations. Default error')
    return parser.parse_args(argv)


def load_stats(args: argparse.Namespace) -> ClassStats:
    """The :class:`ClassStats` of ``args.ann_file``; SystemExit naming the file when it cannot
    be read."""
    if args.format == 'auto' and args.ann_file not in PACKAGED \
            and osp.splitext(args.ann_file)[1].lower() not in ('.json', '.txt', '.csv'):
        raise SystemExit(f'cannot tell the format of {args.ann_file!r}; pass --format (or one '
                         f'of {", ".join(PACKAGED)})')
    try:
        return ClassStats.load(args.ann_file, args.format, classes=args.classes,
                               num_images=args.num_images, on_mismatch=args.on_mismatch)
    except FileNotFoundError:
        raise SystemExit(f'{args.ann_file}: no such file') from None


def weight_columns(stats: ClassStats, variants: Sequence[str], strict: bool,
                   p_norm: Optional[float], clamp: bool) -> Dict[str, List[float]]:
    """``{'iif_<variant>': weights}``; undefined variants raise when ``strict``, else are
    skipped with a note on stderr."""
    out = {}
    for variant in variants:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                w = iif_weights_from_stats(stats, variant, p_norm=p_norm,
                                           clamp_negative=clamp)
        except ValueError as e:
            if strict:
                raise SystemExit(f'variant {variant}: {e}')
            print(f'note: skipping variant {variant}: {e}', file=sys.stderr)
            continue
        for warning in caught:
            print(f'warning: {warning.message}', file=sys.stderr)
        out[f'iif_{variant}'] = w.tolist()
    return out


def plot_histogram(stats: ClassStats, path: str, split_rule: str = 'inclusive') -> None:
    """Save the sorted per-class image counts (log y), coloured by shot group, as a PNG."""
    import io

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    from ltr_plugins.fileio import atomic_write_bytes
    order = np.argsort(-stats.image_counts, kind='stable')
    counts = stats.image_counts[order]
    groups = stats.groups(rule=split_rule)[order]
    colors = {'many': 'C0', 'medium': 'C1', 'few': 'C3'}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(counts))
    for g, c in colors.items():
        sel = groups == g
        ax.bar(x[sel], np.maximum(counts[sel], 0.5), width=1.0, color=c,
               label=f'{g} ({int(sel.sum())})')
    for bound, name in ((10.5, 'r | c'), (100.5, 'c | f')):
        ax.axhline(bound, color='0.5', ls='--', lw=0.8)
        ax.text(len(counts) - 1, bound, name, ha='right', va='bottom', fontsize=7, color='0.4')
    ax.set_yscale('log')
    ax.set_xlabel('classes, sorted by training images')
    ax.set_ylabel('training images')
    ax.set_title(f'{osp.basename(str(stats.source))}: {stats.num_classes} classes, '
                 f'{stats.num_images} images')
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110, bbox_inches='tight')
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Write the csv (``--out``) / histogram (``--plot``) of ANN_FILE and print a summary."""
    args = parse_args(argv)
    try:
        stats = load_stats(args)
    except ValueError as e:
        raise SystemExit(str(e))
    variants = args.variants or DEFAULT_VARIANTS
    columns = weight_columns(stats, variants, strict=bool(args.variants),
                             p_norm=args.p_norm, clamp=args.clamp_negative)
    shots = stats.groups(rule=args.split_rule)
    if args.out:
        stats.to_csv(args.out, {'shot': list(shots), **columns})

    freq = Counter(stats.lvis_frequency())
    shot = Counter(shots)
    print(f'source: {stats.source}')
    print(f'classes K={stats.num_classes}  images N={stats.num_images}  '
          f'instances={stats.num_instances}  '
          f'image counts {int(stats.image_counts.min())}..{int(stats.image_counts.max())} '
          f'(zero: {int((stats.image_counts == 0).sum())})')
    print(f'LVIS frequency r/c/f = {freq["r"]}/{freq["c"]}/{freq["f"]}  '
          f'many/medium/few = {shot["many"]}/{shot["medium"]}/{shot["few"]}')
    for name, w in columns.items():
        print(f'{name:<18} min {min(w):.4f}  max {max(w):.4f}')
    if args.out:
        print(f'wrote {args.out}')
    if args.plot:
        plot_histogram(stats, args.plot, args.split_rule)
        print(f'wrote {args.plot}')


if __name__ == '__main__':
    main()
