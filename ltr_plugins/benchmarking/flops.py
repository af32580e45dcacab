"""FLOPs of a training run and of its test pass, counted on one batch of each.

:func:`count_run_flops` builds a config's model and data loaders without a Runner, takes the
first training batch and counts one training iteration -- what ``model.train_step`` computes
(data preprocessor, forward, loss, backward of the summed loss) without the optimizer step --
and the first test batch (``model.test_step`` under ``no_grad``). The training iteration is
counted twice on that batch: the first may compute something once and cache it (VL-LTR
stage 1 embeds its class sentences with the frozen text encoder: its first demo iteration is
221 GFLOP, the others 27), so a run's training total is the first plus the second times the
remaining iterations (``len(train dataloader) * max_epochs``); the test total is the batch's
count times the test batches.

Counting is torch's ``FlopCounterMode``: it counts the matrix products and convolutions
(``mm``, ``addmm``, ``bmm``, ``convolution`` and their backward, attention) that the dispatcher
actually runs, one multiply-add = 2 FLOPs. So:

* backward counts only the gradients autograd computes: parameters with
  ``requires_grad=False`` (a frozen backbone: ``SmallConvNet(frozen=True)``, mmdet ResNet
  ``frozen_stages``) cost no weight gradient, and no input gradient below the lowest trainable
  layer. An optimizer ``lr_mult=0`` does not stop gradients, so such parameters are counted
  (they are computed in training);
* element-wise ops, normalisation, pooling, and mmcv's own C++ / CUDA ops (RoIAlign, NMS),
  which bypass the dispatcher, are not counted.

A detector's cost per iteration depends on the batch (image sizes, number of ground-truth
boxes, positive RoIs for the mask head; at test time the detections that reach the mask head),
so its counts are an estimate from the first batch under a fixed seed; a classifier's are exact
up to the last, smaller batch of an epoch (counted as a full one here).

Cost (2 shared CPU cores): ~3 s for the demo classifier; ~45-65 s for the demo Mask R-CNN,
most of it the test batch, whose mask head runs on up to ``max_per_img`` detections per image
(100 in the demo configs, 300 in the LVIS ones) and pastes
each mask separately on CPU (mmdet's ``FCNMaskHead``), every small op going through the counter.
"""
from __future__ import annotations

import copy
import logging
import random
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Tuple, Union

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

if TYPE_CHECKING:
    from mmengine.config import Config

GIGA = 1e9


def count_flops(fn: Callable[[], Any]) -> Tuple[int, Any]:
    """``(flops, fn())``: the FLOPs of the torch ops ``fn`` runs (see the module docstring)."""
    with FlopCounterMode(display=False) as counter:
        out = fn()
    return counter.get_total_flops(), out


def train_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """The summed training loss of an mmengine model on a data loader ``batch``, as
    ``BaseModel.train_step`` computes it: data preprocessor, ``forward(mode='loss')``,
    ``parse_losses``."""
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss') if isinstance(data, dict) else model(*data, mode='loss')
    return model.parse_losses(losses)[0]


def train_iter_flops(model: torch.nn.Module, batch: Any) -> Tuple[int, int]:
    """``(forward_flops, total_flops)`` of one training iteration of an mmengine model on
    ``batch`` (a data loader batch: dict of ``inputs`` list of (C, H, W) tensors and
    ``data_samples``): data preprocessor + ``forward(mode='loss')`` (the forward part),
    then backward of the summed loss (``model.parse_losses``), as
    ``BaseModel.train_step`` does, without the optimizer step. Parameter gradients are left in
    ``.grad``.

    Raises:
        ValueError: the model overrides ``train_step`` (it may compute something else).
    """
    from mmengine.model import BaseModel
    if type(model).train_step is not BaseModel.train_step:
        raise ValueError(f'{type(model).__name__} overrides train_step; counting its '
                         'forward + backward would not be what it trains')

    forward_flops, loss = count_flops(lambda: train_loss(model, batch))
    backward_flops, _ = count_flops(loss.backward)
    return forward_flops, forward_flops + backward_flops


def trunk_flops(model: torch.nn.Module, batch: Any, training: bool) -> int:
    """FLOPs of the frozen trunk's pass on ``batch`` that a
    :class:`~ltr_plugins.retrain_group.RetrainGroup` of such models runs once for all its
    members: a ``BoxHeadRetrainDetector``'s features and proposals (training:
    ``frozen_trunk``; test: ``predict_trunk``), a classifier's frozen backbone
    (``backbone.frozen``); 0 for a model no group shares."""
    data = model.data_preprocessor(batch, training)
    with torch.no_grad():
        if hasattr(model, 'frozen_trunk'):
            trunk = model.frozen_trunk if training else model.predict_trunk
            return count_flops(lambda: trunk(data['inputs'], data['data_samples']))[0]
        if getattr(getattr(model, 'backbone', None), 'frozen', False):
            return count_flops(lambda: model.backbone(data['inputs']))[0]
    return 0


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's ``random``, NumPy and torch (CPU and CUDA) as mmengine does, and restore
    their states afterwards."""
    states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also every CUDA device
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@contextmanager
def _quiet_logger() -> Iterator[None]:
    """Keep mmengine's current logger to warnings (``init_weights`` logs every parameter)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _loader_cfg(cfg: dict) -> dict:
    """A data loader config in this process: no worker processes (the first batch only)."""
    cfg = copy.deepcopy(cfg)
    cfg['num_workers'] = 0
    cfg['persistent_workers'] = False
    cfg.pop('prefetch_factor', None)
    return cfg


def _total_iters(train_cfg: dict, iters_per_epoch: int) -> Tuple[Optional[int], int]:
    """``(epochs, iterations)`` of the training run (epochs None for an iteration-based one)."""
    if train_cfg.get('max_iters') is not None and train_cfg.get('by_epoch') is not True:
        return None, int(train_cfg['max_iters'])
    epochs = int(train_cfg['max_epochs'])
    return epochs, epochs * iters_per_epoch


@contextmanager
def built_run(config: Union[str, 'Config'], checkpoint: Optional[str] = None,
              cfg_options: Optional[dict] = None, seed: int = 0,
              device: str = 'cpu') -> Iterator[Tuple['Config', torch.nn.Module, Any, Any]]:
    """``(cfg, model, train_loader, test_loader)`` of a config, built as a Runner would, without
    one: the model initialised (or ``checkpoint`` loaded) and in training mode, the loaders
    without worker processes. Inside, the config's default scope is current and Python's
    ``random``, NumPy and torch are seeded with ``seed``; their states are restored after.
    Arguments as :func:`count_run_flops`."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import load_state_dict

    import ltr_plugins  # noqa: F401  (registers the package's modules)
    from ltr_plugins.compat import safe_torch_load
    from ltr_plugins.launch import prepare_embedded_data
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        from ltr_plugins.mim import config_path
        cfg = Config.fromfile(config_path(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    prepare_embedded_data(cfg)  # idempotent, as tools/train.py
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:  # as Runner.__init__ merges it
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)

    with DefaultScope.overwrite_default_scope(cfg.default_scope), _seeded(seed):
        model = MODELS.build(model_cfg)
        with _quiet_logger():
            if checkpoint is None:
                model.init_weights()  # as Runner.train
            else:  # the restricted loader of the tools (torch >= 2.6 defaults to weights_only)
                state = safe_torch_load(checkpoint, map_location='cpu')
                load_state_dict(model, state.get('state_dict', state))
        model.to(device)
        model.train()  # frozen modules keep their own mode (their train() override)
        train_loader = Runner.build_dataloader(_loader_cfg(cfg.train_dataloader), seed=seed)
        test_loader = Runner.build_dataloader(_loader_cfg(cfg.test_dataloader), seed=seed)
        yield cfg, model, train_loader, test_loader


def count_run_flops(config: Union[str, 'Config'], checkpoint: Optional[str] = None,
                    cfg_options: Optional[dict] = None, seed: int = 0,
                    device: str = 'cpu') -> Dict[str, Any]:
    """FLOPs of training and testing ``config`` (see the module docstring).

    Args:
        config: a config file (or ``ltr_plugins::`` name) or an mmengine ``Config``
            (not modified).
        checkpoint: weights to load before counting (a detector's proposals and detections,
            and so its cost, depend on them); default: the config's initialisation.
        cfg_options: overrides as ``--cfg-options`` (``{'model.backbone.frozen': True}``).
        seed: the seed of the model initialisation and of the batches taken.
        device: where the model runs (the counts do not depend on it).

    Returns:
        dict with ``train_iter_gflop`` (one iteration, forward + backward, after the first),
        ``train_first_iter_gflop`` (the first, with any work done once and cached),
        ``train_forward_gflop`` (its forward + loss part), ``train_trunk_gflop`` (of
        ``train_gflop``, the frozen trunk's forward that a retraining group runs once for all
        its members, :func:`trunk_flops`; else 0), ``iters_per_epoch``
        (``len(train dataloader)``), ``epochs`` (``train_cfg.max_epochs``; None for an
        iteration-based schedule), ``train_gflop`` (the first iteration + ``train_iter_gflop``
        x the others),
        ``test_batch_gflop``, ``test_batches`` (``len(test dataloader)``), ``test_gflop``
        (``test_batch_gflop x test_batches``), ``test_trunk_gflop`` (of ``test_gflop``, the
        trunk's part, which a group's test pass runs once for all its members) and
        ``total_gflop`` (train + test).
    """
    with built_run(config, checkpoint, cfg_options, seed, device) as (
            cfg, model, train_loader, test_loader):
        train_batch = next(iter(train_loader))
        _, first_iter = train_iter_flops(model, train_batch)  # with any one-time work
        forward, train_iter = train_iter_flops(model, train_batch)
        trunk = trunk_flops(model, train_batch, True)
        model.eval()
        batch = next(iter(test_loader))
        with torch.no_grad():
            test_batch, _ = count_flops(lambda: model.test_step(batch))
        test_trunk = trunk_flops(model, batch, False)
        model.zero_grad(set_to_none=True)

    iters_per_epoch = len(train_loader)
    epochs, iters = _total_iters(cfg.train_cfg, iters_per_epoch)
    test_batches = len(test_loader)
    train_gflop = (first_iter + train_iter * max(iters - 1, 0)) / GIGA
    test_gflop = test_batch / GIGA * test_batches
    return dict(train_iter_gflop=train_iter / GIGA, train_first_iter_gflop=first_iter / GIGA,
                train_forward_gflop=forward / GIGA,
                train_trunk_gflop=trunk / GIGA * iters,
                iters_per_epoch=iters_per_epoch, epochs=epochs, train_gflop=train_gflop,
                test_batch_gflop=test_batch / GIGA, test_batches=test_batches,
                test_gflop=test_gflop, test_trunk_gflop=test_trunk / GIGA * test_batches,
                total_gflop=train_gflop + test_gflop)


if __name__ == '__main__':
    import argparse
    import json
    import time

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='FLOPs of training and testing a config')
    parser.add_argument('config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    start = time.time()
    result = count_run_flops(args.config, args.checkpoint, args.cfg_options)
    result['seconds'] = round(time.time() - start, 2)
    print(json.dumps(result, indent=1))
