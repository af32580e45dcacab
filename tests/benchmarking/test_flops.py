"""ltr_plugins.benchmarking.flops: FLOPs of one training iteration / test batch and of a run."""
import json
import math

import numpy as np
import pytest
import torch
from ltr_testing import REPO, build_model
from torch import nn

from ltr_plugins.benchmarking.flops import GIGA, count_flops, count_run_flops, train_iter_flops

B, IN, HID, OUT = 4, 5, 7, 3


def test_linear_layer_counts_the_formula():
    """y = x W^T + b: forward 2*B*in*out; backward one product per gradient asked for."""
    fc = nn.Linear(IN, OUT)
    forward = 2 * B * IN * OUT
    x = torch.randn(B, IN, requires_grad=True)
    flops, y = count_flops(lambda: fc(x))
    assert flops == forward
    assert count_flops(lambda: y.sum().backward())[0] == 2 * forward  # grad W and grad x

    x = torch.randn(B, IN)  # no input gradient: grad W only
    assert count_flops(lambda: fc(x).sum().backward())[0] == 2 * forward

    fc.requires_grad_(False)  # frozen weight: grad x only
    x = torch.randn(B, IN, requires_grad=True)
    assert count_flops(lambda: fc(x).sum().backward())[0] == 2 * forward


def _two_layer_model():
    from mmengine.model import BaseModel

    class TwoLayer(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(IN, HID), nn.Linear(HID, OUT)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.fc2(self.fc1(inputs))
            return dict(loss_a=out.pow(2).mean(), loss_b=out.mean(), acc=out.sum())

    return TwoLayer()


def test_train_iteration_skips_frozen_gradients():
    """Forward 2B(in*hid + hid*out); backward: grad W2 and grad of fc2's input, grad W1 (the
    data needs none); with fc1 frozen only grad W2."""
    batch = dict(inputs=torch.randn(B, IN))
    forward = 2 * B * (IN * HID + HID * OUT)
    model = _two_layer_model()
    assert train_iter_flops(model, batch) == (forward,
                                              forward + 2 * B * (2 * HID * OUT + IN * HID))
    assert model.fc1.weight.grad is not None  # the backward of the summed loss ran
    model.fc1.requires_grad_(False)
    assert train_iter_flops(model, batch) == (forward, forward + 2 * B * HID * OUT)


@pytest.fixture(scope='module')
def tiny_counts(tiny_data):
    config = str(REPO / 'tests/configs/convnet_tiny.py')
    return (count_run_flops(config),
            count_run_flops(config, cfg_options={'model.backbone.frozen': True}))


def test_counting_leaves_the_random_state_and_scope_alone(tiny_data):
    from mmengine.registry import DefaultScope
    scope = DefaultScope.get_current_instance()
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    count_run_flops(str(REPO / 'tests/configs/convnet_tiny.py'), seed=5)
    assert DefaultScope.get_current_instance() is scope
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])


def test_frozen_backbone_costs_only_the_head_gradient(tiny_counts, tiny_data):
    full, frozen = tiny_counts
    assert frozen['train_forward_gflop'] == full['train_forward_gflop']
    assert frozen['train_forward_gflop'] < frozen['train_iter_gflop'] < full['train_iter_gflop']
    # frozen backbone: the backward is the head's weight gradient alone, 2 * batch * 64 * 6
    head_grad = 2 * 32 * 64 * 6 / 1e9
    assert frozen['train_iter_gflop'] - frozen['train_forward_gflop'] == pytest.approx(head_grad)
    # the backbone's backward costs about twice its forward (less the first conv's input grad)
    assert 1.5 < (full['train_iter_gflop'] / full['train_forward_gflop'] - 1) < 2
    # the frozen backbone's forward, which a retraining group runs once for all its members:
    # the forward less the head's product, in training (batch 32) and test (the first batch)
    iters = frozen['iters_per_epoch'] * frozen['epochs']
    assert frozen['train_trunk_gflop'] == pytest.approx(
        (frozen['train_forward_gflop'] - 2 * 32 * 64 * 6 / 1e9) * iters)
    test_images = len((tiny_data / 'classification/ImageNet_LT_test.txt').read_text().split()) // 2
    first_batch = min(128, test_images)
    assert frozen['test_trunk_gflop'] == pytest.approx(
        (frozen['test_batch_gflop'] - 2 * first_batch * 64 * 6 / 1e9) * frozen['test_batches'])
    assert full['train_trunk_gflop'] == full['test_trunk_gflop'] == 0  # no group shares it


def test_run_totals_follow_the_schedule(tiny_counts, tiny_data):
    full, _ = tiny_counts
    root = tiny_data / 'classification'
    train_images = len((root / 'ImageNet_LT_train.txt').read_text().split('\n')[:-1])
    test_images = len((root / 'ImageNet_LT_test.txt').read_text().split('\n')[:-1])
    assert full['epochs'] == 2
    assert full['iters_per_epoch'] == math.ceil(train_images / 32)
    assert full['test_batches'] == math.ceil(test_images / 128)
    assert full['train_gflop'] == pytest.approx(full['train_iter_gflop'] * 2
                                                * full['iters_per_epoch'])
    assert full['test_gflop'] == pytest.approx(full['test_batch_gflop'] * full['test_batches'])
    assert full['total_gflop'] == pytest.approx(full['train_gflop'] + full['test_gflop'])
    # same 32 px images in training and test: the same forward cost per image
    assert full['test_batch_gflop'] / test_images == pytest.approx(
        full['train_forward_gflop'] / 32)


def test_detector_frozen_backbone_has_a_smaller_backward(tiny_data):
    """Mask R-CNN (tiny): ResNet frozen_stages=4 drops the backbone's backward; the forward
    differs a little (the positive RoIs depend on the features), the backward clearly."""
    config = str(REPO / 'tests/configs/mask_rcnn_tiny.py')
    full = count_run_flops(config)
    frozen = count_run_flops(config, cfg_options={'model.backbone.frozen_stages': 4,
                                                  'model.backbone.norm_eval': True})
    backward = {k: c['train_iter_gflop'] - c['train_forward_gflop']
                for k, c in (('full', full), ('frozen', frozen))}
    assert 0 < backward['frozen'] < 0.9 * backward['full']
    assert full['test_trunk_gflop'] == 0  # a MaskRCNN: no group shares its trunk
    images = json.loads((tiny_data / 'lvis_v1/annotations/lvis_v1_train.json').read_text())
    assert full['iters_per_epoch'] * 4 >= len(images['images'])  # repeat factors >= 1
    assert full['train_gflop'] == pytest.approx(full['train_iter_gflop']
                                                * full['iters_per_epoch'] * full['epochs'])
    assert full['test_batch_gflop'] > 0 and full['test_batches'] == math.ceil(
        len(json.loads((tiny_data / 'lvis_v1/annotations/lvis_v1_val.json').read_text())
            ['images']) / 4)


def test_a_training_checkpoint_loads_and_its_weights_are_used(tiny_data, tmp_path, monkeypatch):
    """A checkpoint as mmengine saves it (message hub objects that torch >= 2.6's default
    ``weights_only`` load refuses) loads through the tools' restricted loader, and the model
    that is counted has its weights."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import load_state_dict

    from ltr_plugins.benchmarking import flops
    config = str(REPO / 'tests/configs/convnet_tiny.py')
    model = build_model(Config.fromfile(config))
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    ckpt = tmp_path / 'epoch_1.pth'
    history = HistoryBuffer()
    history.update(1.0)
    torch.save({'state_dict': state, 'message_hub': {'log': history}}, ckpt)
    loaded = []
    monkeypatch.setattr('mmengine.runner.checkpoint.load_state_dict',
                        lambda m, sd, **k: loaded.append(sd) or load_state_dict(m, sd, **k))
    counted = flops.count_run_flops(config, str(ckpt))
    assert counted['train_iter_gflop'] > 0
    sd, = loaded
    assert set(sd) == set(state) and all(torch.equal(sd[k], state[k]) for k in state)


def test_work_done_once_is_counted_once(tiny_data, monkeypatch):
    """A model that computes something on its first iteration and caches it (VL-LTR's frozen
    class-sentence embeddings): the first iteration is counted on its own, the others as the
    second; a run's training total is first + steady x (iterations - 1)."""
    from mmengine.model import BaseModel

    class Cached(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc, self.table = nn.Linear(IN, OUT), None

        def forward(self, inputs, data_samples=None, mode='tensor'):
            if self.table is None:  # once: a (HID x IN) x (IN x OUT) product, no gradient
                with torch.no_grad():
                    self.table = torch.randn(HID, IN) @ self.fc.weight.t()
            return dict(loss=self.fc(inputs).sum() + 0 * self.table.sum())

    model, batch = Cached(), dict(inputs=torch.randn(B, IN))
    steady = 2 * B * IN * OUT * 2  # forward + the weight gradient (the data needs none)
    assert train_iter_flops(model, batch)[1] == steady + 2 * HID * IN * OUT
    assert train_iter_flops(model, batch)[1] == steady

    from ltr_plugins.benchmarking import flops
    counts = iter([(3, 10 * GIGA), (1, 2 * GIGA)])  # first, then steady iterations
    monkeypatch.setattr(flops, 'train_iter_flops', lambda model, batch: next(counts))
    result = count_run_flops(str(REPO / 'tests/configs/convnet_tiny.py'))
    iters = result['epochs'] * result['iters_per_epoch']
    assert result['train_first_iter_gflop'] == 10 and result['train_iter_gflop'] == 2
    assert result['train_gflop'] == pytest.approx(10 + 2 * (iters - 1))
