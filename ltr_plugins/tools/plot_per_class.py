"""Per-class accuracy / AP against training frequency for several runs in one figure, and a
calibration (reliability) diagram.

    python tools/analysis/plot_per_class.py RUN [RUN ...] [--labels A B ...] \
        [--out per_class.png] [--calibration calibration.png] [--bins 15]

RUN is a work dir (its ``test/`` csv files are used, as written by ``tools/test.py``) or a csv:
``per_class_accuracy.csv`` (LongTailAccuracy) or ``per_category_ap_segm.csv`` /
``per_category_ap_bbox.csv`` (LongTailLVISMetric). The frequency plot shows every class as a
dot at its number of training images (log x) and, per run, the mean over log-spaced frequency
bins as a line; the many / medium / few (or LVIS r / c / f) boundaries are drawn. The
calibration diagram needs ``predictions.csv`` (classification): accuracy per confidence bin
against the diagonal, with the expected calibration error in the legend.
"""
import argparse
import csv
import io
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ltr_plugins.core.evaluation import reliability_bins
from ltr_plugins.fileio import atomic_write_bytes

PER_CLASS_FILES = ('per_class_accuracy.csv', 'per_category_ap_segm.csv',
                   'per_category_ap_bbox.csv')


def find_csv(run: str, names=PER_CLASS_FILES) -> str:
    """The csv a RUN argument stands for (a csv path, or the first match under a work dir)."""
    if osp.isfile(run):
        return run
    for sub in ('test', 'val', ''):
        for name in names:
            path = osp.join(run, sub, name)
            if osp.isfile(path):
                return path
    raise FileNotFoundError(f'{run}: neither a csv nor a work dir with {" / ".join(names)} '
                            'under test/ or val/ (run tools/test.py first)')


def read_per_class(path: str) -> Tuple[np.ndarray, np.ndarray, str]:
    """(train_images, score in %, score name) of the classes with a score in ``path``."""
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f'{path}: no rows')
    key = 'accuracy' if 'accuracy' in rows[0] else 'AP' if 'AP' in rows[0] else None
    if key is None or 'train_images' not in rows[0]:
        raise ValueError(f'{path}: expected columns train_images and accuracy or AP, got '
                         f'{list(rows[0])}')
    rows = [r for r in rows if r[key] != '']
    counts = np.array([float(r['train_images']) for r in rows])
    scores = np.array([float(r[key]) for r in rows]) * (100.0 if key == 'AP' else 1.0)
    return counts, scores, 'top-1 accuracy (%)' if key == 'accuracy' else 'AP (%)'


def binned_mean(x: np.ndarray, y: np.ndarray, num_bins: int = 8):
    """Mean of ``y`` in log-spaced bins of ``x`` (bins without points dropped)."""
    lo, hi = np.log10(max(x.min(), 1)), np.log10(max(x.max(), 1)) + 1e-9
    edges = np.logspace(lo, hi, num_bins + 1)
    idx = np.clip(np.digitize(x, edges) - 1, 0, num_bins - 1)
    centers, means = [], []
    for b in range(num_bins):
        if (idx == b).any():
            centers.append(np.sqrt(edges[b] * edges[b + 1]))
            means.append(y[idx == b].mean())
    return np.array(centers), np.array(means)


def _save(fig, path: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=120, bbox_inches='tight')
    atomic_write_bytes(path, buf.getvalue())
    print(f'saved {path}')


def plot_frequency(runs: List[str], labels: List[str], out: str) -> None:
    """Per-class score against training images (log x) of every run, saved to ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ylabel, detection = None, False
    for i, (run, label) in enumerate(zip(runs, labels)):
        path = find_csv(run)
        counts, scores, name = read_per_class(path)
        if ylabel and name != ylabel:
            raise ValueError(f'{path}: {name} cannot share a figure with {ylabel}')
        ylabel, detection = name, 'per_category_ap' in osp.basename(path)
        color = f'C{i}'
        jitter = 1 + 0.04 * (i - (len(runs) - 1) / 2)  # keep overlapping runs' dots apart
        ax.scatter(counts * jitter, scores, s=14, alpha=0.45, color=color)
        cx, cy = binned_mean(counts, scores)
        ax.plot(cx, cy, '-o', color=color, ms=4,
                label=f'{label} (mean {scores.mean():.1f})')
    bounds = (10.5, 100.5) if detection else (19.5, 100.5)  # r|c|f or few|medium|many
    for b in bounds:
        ax.axvline(b, color='0.6', ls='--', lw=0.8)
    ax.set_xscale('log')
    ax.set_xlabel('training images of the class (log)')
    ax.set_ylabel(ylabel)
    ax.set_title('per-class ' + ('AP' if detection else 'accuracy') + ' vs training frequency')
    ax.legend(fontsize=8)
    _save(fig, out)
    plt.close(fig)


def plot_calibration(runs: List[str], labels: List[str], out: str, num_bins: int) -> None:
    """Reliability diagram (``num_bins`` confidence bins, ECE in the legend) of every run's
    ``predictions.csv``, saved to ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.plot([0, 1], [0, 1], color='0.5', ls='--', lw=1)
    width = 1.0 / num_bins / max(len(runs), 1)
    for i, (run, label) in enumerate(zip(runs, labels)):
        path = find_csv(run, ('predictions.csv', ))
        with open(path, newline='') as f:
            rows = list(csv.DictReader(f))
        conf = np.array([float(r['confidence']) for r in rows])
        if np.isnan(conf).any():
            raise ValueError(f'{path}: predictions without scores (no pred_score)')
        hit = np.array([r['label'] == r['prediction'] for r in rows])
        r = reliability_bins(conf, hit, num_bins)
        left = r['edges'][:-1] + i * width
        ax.bar(left, np.nan_to_num(r['accuracy']), width=width, align='edge', alpha=0.7,
               color=f'C{i}', label=f'{label} (ECE {float(r["ece"]) * 100:.1f}%)')
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel('confidence (max softmax probability)')
    ax.set_ylabel('accuracy')
    ax.set_title('reliability diagram')
    ax.legend(fontsize=8, loc='upper left')
    _save(fig, out)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Plot the runs given on the command line (``--help`` lists every option)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('runs', nargs='+', metavar='RUN', help='work dirs or csv files')
    parser.add_argument('--labels', nargs='+', help='legend label per RUN (default: names)')
    parser.add_argument('--out', default='per_class.png', help='frequency plot PNG')
    parser.add_argument('--calibration', metavar='PNG',
                        help='also write a reliability diagram (classification runs)')
    parser.add_argument('--bins', type=int, default=15, help='confidence bins (calibration)')
    args = parser.parse_args(argv)
    labels = args.labels or [osp.basename(osp.normpath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        parser.error(f'{len(args.runs)} runs but {len(labels)} labels')
    plot_frequency(args.runs, labels, args.out)
    if args.calibration:
        plot_calibration(args.runs, labels, args.calibration, args.bins)


if __name__ == '__main__':
    main()
