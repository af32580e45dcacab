"""ltr_plugins.benchmarking.step_time: the timed steps leave the weights alone, and
``--grads-out`` saves the first batch's gradients (compared with a step computed here)."""
import pytest
import torch
from ltr_testing import REPO

from ltr_plugins.benchmarking import step_time
from ltr_plugins.benchmarking.flops import built_run

CONFIG = str(REPO / 'tests/configs/convnet_tiny.py')


def test_grads_out_is_the_first_batch_step_of_the_untouched_model(tiny_data, tmp_path):
    out = tmp_path / 'grads.pt'
    result = step_time.main([CONFIG, '--steps', '2', '--grads-out', str(out)])
    assert result['seconds_per_step'] > 0 and result['steps'] == 2
    saved = torch.load(out)
    with built_run(CONFIG) as (_, model, train_loader, _):
        data = model.data_preprocessor(next(iter(train_loader)), True)
        loss = sum(v for k, v in model(**data, mode='loss').items() if 'loss' in k)
        loss.backward()
        want = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert sorted(saved) == sorted(want) and len(want) > 2
    assert all(torch.equal(saved[k], want[k]) for k in want)


def test_more_steps_than_batches_names_the_config(tiny_data):
    with pytest.raises(ValueError, match='convnet_tiny.py: the training loader has'):
        step_time.main([CONFIG, '--steps', '100000'])
