"""python -m ltr_plugins.benchmarking.train_test: a benchmark run's training and test in one
process give exactly the metrics of tools/train.py then tools/test.py."""
import json

from ltr_testing import run_tool

CLS_CFG = 'tests/configs/convnet_tiny.py'


def test_one_process_run_equals_train_then_test_tools(tiny_data, tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    opts = ['--cfg-options', 'train_cfg.max_epochs=1']
    run_tool(['-m', 'ltr_plugins.benchmarking.train_test', CLS_CFG, '--work-dir', one,
              '--metrics-out', one / 'metrics.json', *opts])
    run_tool(['tools/train.py', CLS_CFG, '--work-dir', two, *opts])
    run_tool(['tools/test.py', CLS_CFG, two / 'epoch_1.pth', '--work-dir', two,
              '--metrics-out', two / 'metrics.json'])
    metrics = json.loads((one / 'metrics.json').read_text())
    assert 'accuracy/top1' in metrics
    assert metrics == json.loads((two / 'metrics.json').read_text())
    assert (one / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
