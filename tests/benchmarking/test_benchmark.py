"""tools/benchmark.py (ltr_plugins.tools.benchmark, ltr_plugins.benchmarking.overhead): smoke
mode runs every case; ratios and the memory probe are right."""
import csv

import pytest
import torch

from ltr_plugins.benchmarking import overhead as benchmark
from ltr_plugins.tools.benchmark import main as benchmark_main


def test_saved_tensor_bytes_counts_distinct_storages():
    x = torch.randn(100, 50, requires_grad=True)
    w = torch.randn(50, 20, requires_grad=True)
    # mm saves both operands (x and w): 100*50 + 50*20 float32
    assert benchmark.saved_tensor_bytes(lambda: (x @ w).sum()) == (100 * 50 + 50 * 20) * 4
    # the same tensor saved twice counts once (x * x saves x twice)
    assert benchmark.saved_tensor_bytes(lambda: (x * x).sum()) == 100 * 50 * 4


def test_smoke_run_reports_every_case_against_stock(tmp_path):
    benchmark_main(['--smoke', '--out', str(tmp_path)])
    with open(tmp_path / 'overhead.csv') as f:
        rows = list(csv.DictReader(f))
    expected = list(benchmark.CLS_CASES) + list(benchmark.DET_CASES)
    assert [r['head'] for r in rows] == expected
    for task in ('cls', 'det'):
        task_rows = [r for r in rows if r['task'] == task]
        stock = task_rows[0]
        assert stock['head'].endswith('(stock)')
        assert float(stock['train_ratio']) == 1.0 and float(stock['infer_ratio']) == 1.0
        for r in task_rows:
            assert float(r['train_ms']) > 0 and float(r['infer_ms']) > 0
            assert float(r['train_ratio']) == pytest.approx(
                float(r['train_ms']) / float(stock['train_ms']), rel=1e-4)
            assert float(r['params_ratio']) == pytest.approx(
                int(r['params']) / int(stock['params']), rel=1e-4)
    # IIF adds a buffer, no parameters; the cosine classifier drops the bias (K params)
    by_name = {r['head']: r for r in rows}
    assert by_name['IIFLinearClsHead']['params'] == by_name['LinearClsHead (stock)']['params']
    assert int(by_name['LinearClsHead (stock)']['params']) - int(
        by_name['CosineClsHead (s=16)']['params']) == 10
    assert (tmp_path / 'overhead.md').read_text().startswith('# Head overhead')


def test_whole_step_ratios_add_the_rest_of_the_model():
    from types import SimpleNamespace as NS
    stock = NS(name='stock', train_times=[1.0, 3.0, 2.0], infer_times=[0.5], params=10, memory=4)
    head = NS(name='head', train_times=[4.0], infer_times=[1.5, 1.5, 9.0], params=20, memory=8)
    rows = benchmark.report('det', [stock, head], (8.0, 2.5), torch.device('cpu'))
    # medians: stock 2.0 / 0.5 s, head 4.0 / 1.5 s; rest 8.0 s train, 2.5 s inference
    assert rows[1]['train_ratio'] == pytest.approx(2.0)
    assert rows[1]['step_ratio'] == pytest.approx((8 + 4) / (8 + 2))
    assert rows[1]['infer_step_ratio'] == pytest.approx((2.5 + 1.5) / (2.5 + 0.5))
    assert rows[0]['step_ratio'] == rows[0]['infer_step_ratio'] == 1.0
    md = benchmark.to_markdown('det', rows, (8.0, 2.5), torch.device('cpu'), 'sizes')
    assert md.splitlines()[-1].endswith('8000 ms per train step, 2500 ms per inference, '
                                        'measured in the same run.')
    assert '| 1.200 | 1.333 |' in md
