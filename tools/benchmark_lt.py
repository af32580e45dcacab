"""Train and test a set of configs on the embedded data and write one results table.

    python tools/benchmark_lt.py --suite iif [--tasks cls det] [--out work_dirs/benchmark_lt]

Each config is trained with tools/train.py (fixed seed from the config) and its last checkpoint
evaluated with tools/test.py; the table (markdown + csv) has top-1 / many / medium / few for
classification and segm AP / APr / APc / APf (+ bbox AP) for detection, and the wall time of
each run. Existing results are reused unless --force (delete the run's work dir to redo it).
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout

from ltr_plugins.fileio import atomic_write_json, atomic_write_text  # noqa: E402

SUITES = {
    'iif': {
        'cls': [('CE (linear)', 'configs/demo/convnet_ce_demo.py'),
                ('IIF (linear)', 'configs/demo/convnet_iif_demo.py'),
                ('cosine', 'configs/demo/convnet_cosine_demo.py'),
                ('cosine + IIF', 'configs/demo/convnet_cosine_iif_demo.py')],
        'det': [('CE (linear)', 'configs/demo/mask_rcnn_r18_fpn_demo.py'),
                ('IIF (linear)', 'configs/demo/mask_rcnn_r18_fpn_iif_demo.py'),
                ('cosine', 'configs/demo/mask_rcnn_r18_fpn_normed_demo.py'),
                ('cosine + IIF', 'configs/demo/mask_rcnn_r18_fpn_iif_normed_demo.py')],
    },
    'camc': {
        'cls': [('CE (linear)', 'configs/demo/convnet_ce_demo.py'),
                ('cosine s=4', 'configs/demo/convnet_cosine_s4_demo.py'),
                ('cosine s=8', 'configs/demo/convnet_cosine_s8_demo.py'),
                ('cosine s=16', 'configs/demo/convnet_cosine_demo.py'),
                ('cosine s=32', 'configs/demo/convnet_cosine_s32_demo.py'),
                ('CAMC + cosine s=16', 'configs/demo/convnet_camc_demo.py'),
                ('cosine s=16 + IIF', 'configs/demo/convnet_cosine_iif_demo.py'),
                ('CAMC + cosine s=16 + IIF', 'configs/demo/convnet_camc_iif_demo.py')],
        'det': [('CE (linear)', 'configs/demo/mask_rcnn_r18_fpn_demo.py'),
                ('cosine τ=20', 'configs/demo/mask_rcnn_r18_fpn_normed_demo.py'),
                ('CAMC + cosine τ=20', 'configs/demo/mask_rcnn_r18_fpn_camc_demo.py'),
                ('IIF + cosine τ=8', 'configs/demo/mask_rcnn_r18_fpn_iif_normed_demo.py'),
                ('CAMC + IIF + cosine τ=8', 'configs/demo/mask_rcnn_r18_fpn_camc_iif_demo.py')],
    },
    # OLTR: stage 1 is the plain CE model (its checkpoint is reused, tested with the open-set
    # protocol); stage 2 trains from it (load_from). Optional third item of a row:
    #   checkpoint_from=CONFIG: do not train, test the last checkpoint of CONFIG's run
    #   load_from=CONFIG: train starting from the last checkpoint of CONFIG's run
    'oltr': {
        'cls': [('plain CE (stage 1)', 'configs/demo/convnet_oltr_stage1_demo.py',
                 dict(checkpoint_from='configs/demo/convnet_ce_demo.py')),
                ('CE + class-aware fine-tune (control)',
                 'configs/demo/convnet_ce_classaware_stage2_demo.py',
                 dict(load_from='configs/demo/convnet_ce_demo.py')),
                ('OLTR (stage 2)', 'configs/demo/convnet_oltr_stage2_demo.py',
                 dict(load_from='configs/demo/convnet_ce_demo.py'))],
        'det': [('CE (linear)', 'configs/demo/mask_rcnn_r18_fpn_demo.py'),
                ('OLTR head (stage 2)', 'configs/demo/mask_rcnn_r18_fpn_oltr_demo.py',
                 dict(load_from='configs/demo/mask_rcnn_r18_fpn_demo.py'))],
    },
}
# VL-LTR: stage 2 reads the stage-1 checkpoint and anchor files at these (config-given) paths,
# so this suite needs the default --out. Prepare steps run before a config's training when
# their output is missing: (output file, tool argv).
_VL_STAGE1 = 'work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/'
_VL_ANSS = ['tools/vlltr/select_anchor_sentences.py', 'configs/demo/convnet_vlltr_pretrain_demo.py',
            _VL_STAGE1 + 'epoch_20.pth', '--num-anchors', '8']


def _anchors(name: str, *extra: str):
    out = _VL_STAGE1 + name
    return dict(prepare=[(out, _VL_ANSS + list(extra) + ['--out', out])])


_VL_DET_ANCHORS = _anchors('anchors_det_anss_m8.safetensors', '--classes',
                           'data/demo/lvis_v1/annotations/lvis_v1_train.json')
SUITES['vlltr'] = {
    'cls': [('CE (linear)', 'configs/demo/convnet_ce_demo.py'),
            ('VL-LTR stage 1, zero-shot', 'configs/demo/convnet_vlltr_pretrain_demo.py'),
            ('stage 1 + FC head', 'configs/demo/convnet_vlltr_fc_demo.py'),
            ('stage 1 + LGR, random anchors', 'configs/demo/convnet_vlltr_random_anchors_demo.py',
             _anchors('anchors_random_m8.safetensors', '--method', 'random')),
            ('stage 1 + LGR, AnSS anchors (VL-LTR)', 'configs/demo/convnet_vlltr_demo.py',
             _anchors('anchors_anss_m8.safetensors'))],
    'det': [('CE (linear)', 'configs/demo/mask_rcnn_r18_fpn_demo.py'),
            ('IIF (linear)', 'configs/demo/mask_rcnn_r18_fpn_iif_demo.py'),
            ('LGR (VL-LTR anchors)', 'configs/demo/mask_rcnn_r18_fpn_vlltr_demo.py',
             _VL_DET_ANCHORS),
            ('LGR + IIF', 'configs/demo/mask_rcnn_r18_fpn_vlltr_iif_demo.py', _VL_DET_ANCHORS)],
}
COLUMNS = {
    'cls': [('top-1', 'accuracy/top1'), ('many', 'accuracy/many'),
            ('medium', 'accuracy/medium'), ('few', 'accuracy/few')],
    'det': [('AP', 'lvis/segm_AP'), ('APr', 'lvis/segm_APr'), ('APc', 'lvis/segm_APc'),
            ('APf', 'lvis/segm_APf'), ('box AP', 'lvis/bbox_AP')],
}
#: suite-specific columns (default: COLUMNS[task])
SUITE_COLUMNS = {
    ('oltr', 'cls'): [('top-1', 'open_set/top1'), ('many', 'open_set/many'),
                      ('medium', 'open_set/medium'), ('few', 'open_set/few'),
                      ('F (t=0.1)', 'open_set/f_measure'),
                      ('F (t=0.5)', 'open_set/f_measure@0.5'),
                      ('F (t=0.9)', 'open_set/f_measure@0.9'),
                      ('open rejected % (0.5)', 'open_set/open_rejection_rate@0.5'),
                      ('known rejected % (0.5)', 'open_set/known_rejection_rate@0.5')],
}


def _work_dir(config: str, out: str) -> str:
    return osp.join(out, osp.splitext(osp.basename(config))[0])


def _last_checkpoint(config: str, out: str, force: bool) -> str:
    """Train ``config`` (as a benchmark run) if needed; its last checkpoint."""
    run(config, config, out, force)
    with open(osp.join(_work_dir(config, out), 'last_checkpoint')) as f:
        return f.read().strip()


def run(name: str, config: str, out: str, force: bool, checkpoint_from: str = None,
        load_from: str = None, prepare=()) -> dict:
    work_dir = _work_dir(config, out)
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    if osp.isfile(metrics_file) and not force:
        with open(metrics_file) as f:
            return json.load(f)
    start = time.time()
    py = sys.executable
    for creates, argv in prepare:  # e.g. anchor sentence selection before an LGR run
        if force or not osp.exists(osp.join(ROOT, creates)):
            subprocess.run([py, *argv], cwd=ROOT, check=True)
    if checkpoint_from:
        ckpt = _last_checkpoint(checkpoint_from, out, False)
        os.makedirs(work_dir, exist_ok=True)
    else:
        extra = []
        if load_from:
            extra = ['--cfg-options', f'load_from={_last_checkpoint(load_from, out, False)}']
        subprocess.run([py, 'tools/train.py', config, '--work-dir', work_dir, *extra],
                       cwd=ROOT, check=True)
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
    subprocess.run([py, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
                    '--metrics-out', metrics_file], cwd=ROOT, check=True)
    with open(metrics_file) as f:
        metrics = json.load(f)
    metrics['minutes'] = (time.time() - start) / 60
    if checkpoint_from:
        metrics['checkpoint'] = ckpt
    atomic_write_json(metrics_file, metrics)
    print(f'[benchmark] {name} ({config}) done in {metrics["minutes"]:.1f} min', flush=True)
    return metrics


def _finished(name: str, config: str, out: str) -> dict:
    """The metrics of a finished run, or {} (shown as '-')."""
    path = osp.join(out, osp.splitext(osp.basename(config))[0], 'test_metrics.json')
    if not osp.isfile(path):
        print(f'[benchmark] {name} ({config}): not run', flush=True)
        return {}
    with open(path) as f:
        return json.load(f)


def table(task: str, rows, cols) -> str:
    lines = ['| method | config | ' + ' | '.join(c for c, _ in cols) + ' | minutes |',
             '|---|---|' + '---|' * (len(cols) + 1)]
    for name, config, m in rows:
        cells = [_cell(task, k, m) for _, k in cols]
        minutes = f'{m["minutes"]:.1f}' if 'minutes' in m else '-'
        lines.append(f'| {name} | `{osp.basename(config)}` | ' + ' | '.join(cells) +
                     f' | {minutes} |')
    return '\n'.join(lines)


def _cell(task: str, key: str, m: dict) -> str:
    if key not in m:
        return '-'
    if 'f_measure' in key:  # a fraction, as in the OLTR paper
        return f'{m[key]:.3f}'
    scale = 100 if task == 'det' else 1  # LVIS AP in [0, 1] -> percent
    return f'{m[key] * scale:.1f}'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--suite', default='iif', choices=sorted(SUITES),
                        help='which set of methods to compare (default: iif)')
    parser.add_argument('--tasks', nargs='+', default=['cls', 'det'], choices=['cls', 'det'],
                        help='classification and/or detection (default: both)')
    parser.add_argument('--out', default='work_dirs/benchmark_lt',
                        help='work dirs and results go here')
    parser.add_argument('--force', action='store_true', help='rerun finished runs')
    parser.add_argument('--reuse-only', action='store_true',
                        help='train nothing: table the finished runs, "-" for the others')
    args = parser.parse_args(argv)
    out = osp.join(ROOT, args.out) if not osp.isabs(args.out) else args.out
    os.makedirs(out, exist_ok=True)
    md = [f'Results of `python tools/benchmark_lt.py --suite {args.suite} --tasks '
          f'{" ".join(args.tasks)}` ({time.strftime("%Y-%m-%d")}, embedded demo data, '
          'one seed; detection: segm AP unless noted, in %).', '']
    for task in args.tasks:
        cols = SUITE_COLUMNS.get((args.suite, task), COLUMNS[task])
        rows = [(n, c, _finished(n, c, out) if args.reuse_only else
                 run(n, c, out, args.force, **(opts[0] if opts else {})))
                for n, c, *opts in SUITES[args.suite][task]]
        md += [f'**{"classification" if task == "cls" else "instance segmentation (LVIS-format)"}**',
               '', table(task, rows, cols), '']
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator='\n')
        writer.writerow(['method', 'config'] + [k for _, k in cols] + ['minutes'])
        for n, c, m in rows:
            writer.writerow([n, c] + [m.get(k, '') for _, k in cols] +
                            [m.get('minutes', '')])
        atomic_write_text(osp.join(out, f'{args.suite}_{task}.csv'), buf.getvalue())
    text = '\n'.join(md)
    atomic_write_text(osp.join(out, f'{args.suite}.md'), text + '\n')
    print(text)


if __name__ == '__main__':
    main()
