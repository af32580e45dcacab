"""tools/gpu_check.sh's CPU fallback (``--device cpu --tiny``): one row per config with finite
numbers, the stock row at ratio 1, the other rows at their s/iter over the stock's; the config
list, the stand-ins for earlier-stage files and the tiny pipeline rewrite. The GPU run itself is
not a test (docs/benchmarks/gpu_check.md)."""
import argparse
import json
import math
import os
import re
import subprocess
import sys

import pytest
from ltr_testing import REPO
from mmengine.config import Config

from ltr_plugins.benchmarking import gpu_check
from ltr_plugins.datasets.generator import (generate_imagenet_lt_full_classes,
                                            generate_lvis_full_classes)

STOCK_CLS = 'configs/baselines/resnet50_4xb128-90e_imagenet-lt.py'
COSINE_CLS = 'configs/cosine/resnet50_cosine-s16_4xb128-90e_imagenet-lt.py'
OLTR2_CLS = 'configs/oltr/resnet10_oltr-stage2_1xb128-60e_imagenet-lt.py'


def _rows(text):
    """config -> cells of the printed markdown table."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r'\| `([^`]+)` \|(.*)\|$', line)
        if match:
            rows[match.group(1)] = [c.strip() for c in match.group(2).split('|')]
    return rows


def test_cpu_fallback_prints_a_row_per_config_with_ratios(tmp_path):
    # through the shell wrapper, GPUs hidden (mmengine's runner would take a visible one)
    env = {**os.environ, 'PYTHON': sys.executable, 'CUDA_VISIBLE_DEVICES': ''}
    proc = subprocess.run(['bash', REPO / 'tools/gpu_check.sh', '--device', 'cpu', '--tiny',
                           '--warmup', '1', '--iters', '1', '--configs', COSINE_CLS],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert 'mmcv nms / RoIAlign on CPU: run' in out
    rows = _rows(out)
    assert list(rows) == [STOCK_CLS, COSINE_CLS]  # the stock config is added, first
    values = {}
    for config, cells in rows.items():
        status, train_s, ratio, test_s = cells[:4]
        assert status == 'ok'
        values[config] = (float(train_s), float(ratio), float(test_s))
        assert all(math.isfinite(v) and v > 0 for v in values[config])
        assert cells[4:7] == ['n/a'] * 3  # no per-config peak memory on CPU
    assert values[STOCK_CLS][1] == 1.0
    expected = values[COSINE_CLS][0] / values[STOCK_CLS][0]  # from the printed s/iter
    # 4 significant digits printed: each value within 5e-4 relative, the ratio within 1.5e-3
    assert values[COSINE_CLS][1] == pytest.approx(expected, rel=2e-3, abs=2e-3)


def test_config_list_covers_every_lvis_and_imagenet_lt_config():
    configs = gpu_check.real_configs(str(REPO))
    assert configs[:2] == list(gpu_check.STOCK.values())
    on_disk = sorted(str(p.relative_to(REPO)) for d in gpu_check.METHOD_DIRS
                     for p in (REPO / 'configs' / d).glob('*.py')
                     if p.name.endswith(('_lvis-v1.py', '_imagenet-lt.py')))
    assert sorted(configs) == on_disk and len(configs) == len(set(configs))
    assert not any('/demo/' in c or 'places-lt' in c for c in configs)


def test_earlier_stage_files_get_stand_ins_and_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv('IMAGENET_LT_ROOT', str(tmp_path) + '/')
    monkeypatch.setenv('LVIS_ROOT', str(tmp_path) + '/')
    sizes = gpu_check.REAL

    def notes(config):
        cfg = Config.fromfile(str(REPO / config))
        opts, notes = gpu_check.overrides(cfg, sizes, 5, 'fp16', 'cuda', str(tmp_path))
        cfg.merge_from_dict(opts)
        return cfg, notes

    cfg, n = notes(OLTR2_CLS)
    assert cfg.load_from is None and n == ['load_from dropped (random init)']
    assert cfg.train_cfg.to_dict() == dict(type='IterBasedTrainLoop', max_iters=5,
                                           val_begin=10 ** 9, val_interval=10 ** 9)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'float16'
    assert cfg.test_evaluator.train_ann_file.endswith('ImageNet_LT_train_counts.txt')
    assert cfg.model.neck.spatial_size == 7  # real sizes: the config's
    tiny = Config.fromfile(str(REPO / OLTR2_CLS))
    opts, n = gpu_check.overrides(tiny, gpu_check.TINY, 2, 'fp32', 'cpu', str(tmp_path))
    assert opts['model.neck.spatial_size'] == 1  # 32 px crop, stride 32
    assert n[-1] == 'OLTR attention spatial_size 1 (tiny)'
    cfg, n = notes('configs/vlltr/resnet50_vlltr-lgr-m64_4xb128-30e_imagenet-lt.py')
    assert n == ['load_from dropped (random init)', 'random LGR anchors']
    from ltr_plugins.core.vlltr import load_anchor_embeddings
    assert load_anchor_embeddings(cfg.model.head.anchors).anchors.shape == (1000, 64, 1024)
    cfg, n = notes('configs/vlltr/resnet50_vlltr-pretrain_4xb128-90e_imagenet-lt.py')
    assert n == ['random text encoder (no CLIP checkpoint)']
    encoder = dict(type='random', dim=1024, width=512, layers=2, heads=8)
    assert cfg.model.head.text_encoder.to_dict() == encoder
    cfg, n = notes('configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py')
    predictor = cfg.model.roi_head.bbox_head.cls_predictor_cfg
    assert load_anchor_embeddings(predictor.anchors).anchors.shape == (1203, 16, 512)
    assert cfg.model.backbone.init_cfg is None  # no download
    assert cfg.model.test_cfg.rcnn.max_per_img == 300  # real sizes keep the LVIS protocol


def test_tiny_sizes_rewrite_the_resize_steps():
    cfg = Config.fromfile(str(REPO / gpu_check.STOCK['lvis-v1']))
    gpu_check._apply_tiny_pipelines(cfg, gpu_check.TINY)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for ds in gpu_check._datasets(cfg[loader]):
            steps = {s['type']: s for s in ds['pipeline']}
            resize = steps.get('RandomChoiceResize') or steps['Resize']
            assert resize.get('scales', [resize.get('scale')]) == [gpu_check.TINY.det_scale]


def test_generated_data_has_the_real_class_counts(tmp_path):
    lvis = generate_lvis_full_classes(tmp_path / 'lvis', 1, 1, (64, 48), objects=3)
    train = json.loads((tmp_path / 'lvis/annotations/lvis_v1_train.json').read_text())
    assert lvis['num_classes'] == len(train['categories']) == 1203
    assert {c['frequency'] for c in train['categories']} == set('rcf')
    for a in train['annotations']:
        x, y, w, h = a['bbox']
        assert 0 <= x and x + w <= 64 and 0 <= y and y + h <= 48
    cls = generate_imagenet_lt_full_classes(tmp_path / 'inet', 2, 3, (40, 30))
    assert cls['num_classes'] == 1000
    labels = [int(line.split()[1]) for line in
              (tmp_path / 'inet/ImageNet_LT_train.txt').read_text().splitlines()]
    assert labels == list(range(1000))
    counts = (tmp_path / 'inet/ImageNet_LT_train_counts.txt').read_text().splitlines()
    assert len(counts) == 115846  # ImageNet-LT's training set


def test_report_is_written_after_every_config_and_names_what_is_pending(tmp_path):
    # a run cut short (e.g. at a device time limit) keeps the rows it measured
    args = argparse.Namespace(precision='fp16', device='cuda', tiny=False, iters=3,
                                        warmup=2)
    text = gpu_check.summary(args, gpu_check.REAL)
    rows = [gpu_check.Row(STOCK_CLS, 'imagenet-lt', train_s=0.5, test_s=0.2, train_mem=1000.0,
                          test_mem=400.0),
            gpu_check.Row(COSINE_CLS, 'imagenet-lt', train_s=0.6, test_s=0.2, train_mem=1100.0,
                          test_mem=400.0)]
    out = tmp_path / 'report.md'
    gpu_check.write_report(str(out), ['header'], rows[:1], text, pending=[COSINE_CLS])
    partial = out.read_text()
    assert list(_rows(partial)) == [STOCK_CLS]
    assert f'Not run yet (1): `{COSINE_CLS}`' in partial
    gpu_check.write_report(str(out), ['header'], rows, text)
    final = out.read_text()
    assert 'Not run yet' not in final
    cells = _rows(final)[COSINE_CLS]
    assert float(cells[2]) == pytest.approx(0.6 / 0.5, abs=1e-3)   # x stock (train s/iter)
    assert float(cells[6]) == pytest.approx(1100 / 1000, abs=1e-3)  # mem x stock


def test_peak_memory_is_read_every_iteration_before_the_logger_resets_it(monkeypatch):
    # mmengine's log processor resets the peak counter at every logged iteration: the hook
    # must run before LoggerHook and keep the largest peak it read
    from mmengine.hooks import LoggerHook
    from mmengine.runner.priority import get_priority
    hook = gpu_check._timer_hook('cuda', warmup=1)
    assert get_priority(hook.priority) < get_priority(LoggerHook.priority)
    peaks = iter([100, 300, 200, 50, 70])  # MiB, as the counter reads after each iteration
    monkeypatch.setattr(gpu_check.torch.cuda, 'synchronize', lambda: None)
    monkeypatch.setattr(gpu_check.torch.cuda, 'reset_peak_memory_stats', lambda: None)
    monkeypatch.setattr(gpu_check.torch.cuda, 'max_memory_allocated',
                        lambda: next(peaks) * 2 ** 20)
    runner = argparse.Namespace(iter=0)
    for i in range(3):
        hook.before_train_iter(runner, i)
        runner.iter = i + 1
        hook.after_train_iter(runner, i)
    hook.before_test(runner)
    for i in range(2):
        hook.after_test_iter(runner, i)
    hook.after_test(runner)
    assert hook.train_mem == 300 and hook.test_mem == 70
    assert len(hook.train) == 3 and hook.test_batches == 2
