"""Reliability of the stateful heads (issue 9): DDP equality, resume equality, mixed precision,
the bad-input table and safe loading.

* DDP: 2 real gloo processes on CPU train each head for a few SGD steps on half of a fixed batch
  each; parameters *and* buffers (prototypes, centroids, counts) must equal one process trained
  on the whole batch.
* Resume: ``tools/train.py`` for 2 epochs vs 1 epoch + ``--resume``; every state_dict tensor, the
  optimiser state and the scheduler state must agree.
* AMP: bf16 autocast forward + backward of every registered head, zero feature rows included.
* Bad inputs: one parametrised table, each case a clear error naming the file / field / class
  and nothing written half-way; images without usable annotations train.
* Safe loading: stats / embedding / class-text files carrying a pickle payload are rejected
  without running it.
* Atomic writes: a write killed half-way leaves the old csv / checkpoint and no temporary file.

The whole file: ``pytest tests/runtime/test_reliability.py`` (docs/reliability.md has the timing).
"""
import contextlib
import json
import math
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import pytest
import torch
from ltr_testing import REPO
from ltr_testing import anchor_file as _anchor_file
from ltr_testing import run_gloo, vlltr_pretrainer, write_class_list
from torch import nn

import ltr_plugins  # noqa: F401

# ============================================================================ DDP equality
#: stateful heads under test; each is fed by a small extractor without BatchNorm
DDP_HEADS = ('IIFLinearClsHead', 'CosineClsHead(learnable_scale)', 'CAMCClsHead',
             'OLTRNeck+MetaEmbeddingClsHead', 'LGRClsHead', 'CAMCShared2FCBBoxHead',
             'OLTRShared2FCBBoxHead')
#: detection kinds (RoI maps in, background label NUM_CLS); the DDP test uses the stateful two
DET_KINDS = ('CAMCShared2FCBBoxHead', 'OLTRShared2FCBBoxHead', 'IIFShared2FCBBoxHead',
             'LGRPredictor', 'Shared2FCBBoxHead+EQLV2BBoxLoss')
NUM_CLS = 4         # classes of every head (detection: + background, label 4)
BATCH = 8           # whole batch; each of the 2 ranks takes one half
STEPS = 3


def _train_main(argv):
    """tools/train.py's main (ltr_plugins.tools.train) in this process."""
    from ltr_plugins.tools.train import main
    return main(argv)


def _test_main(argv):
    """tools/test.py's main (ltr_plugins.tools.test) in this process."""
    from ltr_plugins.tools.test import main
    return main(argv)


def _class_stats_main(argv):
    """tools/analysis/class_stats.py's main (ltr_plugins.tools.class_stats) in this process."""
    from ltr_plugins.tools.class_stats import main
    return main(argv)


def _stats_file(tmp: Path) -> str:
    """mmpretrain list with 4 classes of 30 / 12 / 5 / 2 images (IIF statistics)."""
    path = tmp / 'train.txt'
    if not path.exists():
        write_class_list(path, [30, 12, 5, 2])
    return str(path)


@contextlib.contextmanager
def _targets_given():
    """Let ``BBoxHead.get_targets`` return the targets tuple passed in place of the sampling
    results, so the heads' real ``loss_and_target`` runs on fixed RoI labels."""
    from mmdet.models.roi_heads.bbox_heads import BBoxHead
    original = BBoxHead.get_targets
    BBoxHead.get_targets = lambda self, sampling_results, cfg, concat=True: sampling_results
    try:
        yield
    finally:
        BBoxHead.get_targets = original


class _Net(nn.Module):
    """A conv + ReLU feature extractor (no BatchNorm: its batch statistics would differ per
    rank) + one head; ``forward`` returns the summed training loss of a batch (mean-reduced
    losses: DDP's gradient average over equal halves is then the whole-batch gradient)."""

    def __init__(self, kind: str, tmp: Path) -> None:
        super().__init__()
        from mmengine.registry import DefaultScope
        self.kind = kind
        self.zero_first = False  # AMP test: the head sees an all-zero first sample
        det = kind in DET_KINDS
        self.extractor = nn.Sequential(nn.Conv2d(3, 4 if det else 8, 3, padding=1), nn.ReLU())
        self.neck = None
        if det:
            from mmdet.registry import MODELS
            cfg = dict(type=kind, in_channels=4, fc_out_channels=16, roi_feat_size=3,
                       num_classes=NUM_CLS, reg_class_agnostic=False,
                       loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False),
                       loss_bbox=dict(type='L1Loss', loss_weight=1.0))
            if kind == 'CAMCShared2FCBBoxHead':
                cfg.update(camc=dict(lam=1.0, topk=2, momentum=0.8, aux_weight=0.5),
                           cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0))
            elif kind == 'IIFShared2FCBBoxHead':
                cfg.update(iif=dict(variant='raw', stats=_stats_file(tmp)),
                           cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0))
            elif kind == 'Shared2FCBBoxHead+EQLV2BBoxLoss':  # peer: mmdet's EQLv2 (sigmoid)
                cfg.update(type='Shared2FCBBoxHead',
                           loss_cls=dict(type='EQLV2BBoxLoss', num_classes=NUM_CLS,
                                         use_sigmoid=True, test_with_obj=True))
            elif kind == 'LGRPredictor':
                cfg.update(type='Shared2FCBBoxHead',
                           cls_predictor_cfg=dict(type='LGRPredictor', hidden_ratio=2,
                                                  anchors=_anchor_file(tmp, NUM_CLS, 3, 6),
                                                  iif=dict(variant='raw',
                                                           stats=_stats_file(tmp))),
                           loss_cls=dict(type='LGRClsLoss', num_classes=NUM_CLS))
            with DefaultScope.overwrite_default_scope('mmdet'):
                self.head = MODELS.build(cfg)
            return
        from mmpretrain.registry import MODELS
        common = dict(num_classes=NUM_CLS, in_channels=8)
        if kind == 'IIFLinearClsHead':
            cfg = dict(type=kind, iif=dict(variant='smooth', stats=_stats_file(tmp)))
        elif kind.startswith('CosineClsHead'):
            cfg = dict(type='CosineClsHead', scale=8.0, learnable_scale=True, bias=True)
        elif kind == 'CAMCClsHead':
            cfg = dict(type=kind, scale=8.0, learnable_scale=True,
                       camc=dict(lam=1.0, topk=2, momentum=0.8, aux_weight=0.5))
        elif kind == 'PostHocLinearClsHead(logit_adjustment,tau_norm)':  # peers: post-hoc
            cfg = dict(type='PostHocLinearClsHead', tau_norm=dict(tau=1.0),
                       logit_adjustment=dict(tau=1.0, stats=_stats_file(tmp)))
        elif kind == 'LinearClsHead+InverseFrequencyCrossEntropyLoss':  # peer: re-weighted CE
            cfg = dict(type='LinearClsHead',
                       loss=dict(type='InverseFrequencyCrossEntropyLoss', num_classes=NUM_CLS,
                                 stats=_stats_file(tmp)))
        elif kind.endswith('MetaEmbeddingClsHead'):
            cfg = dict(type='MetaEmbeddingClsHead', centroid_loss_weight=0.1)
            self.neck = MODELS.build(dict(type='OLTRNeck', in_channels=8, out_channels=8,
                                          attention=True, spatial_size=4))
        else:
            cfg = dict(type=kind, anchors=_anchor_file(tmp, num_classes=NUM_CLS, m=3, dim=6),
                       freeze_image_proj=False, hidden_ratio=2)
        self.head = MODELS.build(dict(**common, **cfg))

    def head_inputs(self, x: torch.Tensor):
        """What the head takes: a tuple of features (cls) or RoI maps (det)."""
        feats = self.extractor(x)
        if self.zero_first:
            feats = feats * (torch.arange(len(feats)) > 0).to(feats.dtype)[:, None, None, None]
        if self.kind in DET_KINDS:
            return feats
        if self.neck is not None:
            return self.neck((feats, ))
        return (feats, ) if self.kind == 'CAMCClsHead' else (feats.mean((2, 3)), )

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Inference scores (cls: the predicted probabilities; det: class logits)."""
        inputs = self.head_inputs(x)
        if self.kind in DET_KINDS:
            return self.head(inputs)[0]
        return torch.stack([s.pred_score for s in self.head.predict(inputs)])

    def forward(self, x: torch.Tensor, labels: torch.Tensor,
                bbox_targets: Optional[torch.Tensor] = None) -> torch.Tensor:
        inputs = self.head_inputs(x)
        if self.kind in DET_KINDS:
            return self._det_loss(inputs, labels, bbox_targets)
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(int(y)) for y in labels]
        return sum(v for k, v in self.head.loss(inputs, samples).items() if 'loss' in k)

    def _det_loss(self, feats, labels, bbox_targets):
        """The heads' own ``loss_and_target`` on fixed RoI labels / box targets."""
        from ltr_plugins.mmdet.heads import label_aware_forward
        targets = (labels, torch.ones(len(labels)), bbox_targets,
                   (labels < NUM_CLS).float()[:, None].expand(-1, 4).contiguous())
        with _targets_given():
            # as LabelAwareRoIHead.bbox_loss calls them (plain heads: forward, no extras)
            forward_train = label_aware_forward(self.head) or (
                lambda x, _: (*self.head(x), {}))
            cls_score, bbox_pred, extras = forward_train(feats, labels)
            out = self.head.loss_and_target(cls_score, bbox_pred, None, targets, None, **extras)
        return sum(v for k, v in out['loss_bbox'].items() if 'loss' in k)


def _ddp_data():
    """Fixed inputs and labels: the two halves hold different class mixes (rank 0: classes
    0, 0, 0, 1; rank 1: 0, 2, 3, 3), so per-rank means differ from the global ones. Detection
    RoIs: label 4 is background, both halves hold 3 positives (mmdet averages each loss over
    the rank's own RoIs, as for every mmdet loss)."""
    g = torch.Generator().manual_seed(0)
    cls = dict(x=torch.randn(BATCH, 3, 4, 4, generator=g),
               labels=torch.tensor([0, 0, 0, 1, 0, 2, 3, 3]))
    det = dict(x=torch.randn(BATCH, 3, 3, 3, generator=g),
               labels=torch.tensor([0, 0, 4, 1, 2, 4, 3, 3]),
               bbox_targets=torch.randn(BATCH, 4, generator=g))
    return cls, det


def _train(kind: str, tmp: Path, rank: Optional[int] = None) -> dict:
    """STEPS SGD steps; rank None: one process, whole batch; else DDP on this rank's half."""
    torch.manual_seed(0)
    net = _Net(kind, tmp)
    if kind == 'OLTRNeck+MetaEmbeddingClsHead' or kind == 'OLTRShared2FCBBoxHead':
        # centroids near the features (as after OLTRCentroidInitHook), so the repel hinge is
        # active on every rank: then the per-rank losses average to the global one
        with torch.no_grad():
            net.head.loss_centroid.set_centroids(
                0.1 * torch.randn(net.head.loss_centroid.centroids.shape))
    cls, det = _ddp_data()
    data = det if kind in DET_KINDS else cls
    inputs = [data['x'], data['labels']] + ([data['bbox_targets']] if kind in DET_KINDS else [])
    model = net
    if rank is not None:
        half = slice(rank * BATCH // 2, (rank + 1) * BATCH // 2)
        inputs = [t[half] for t in inputs]
        # as tools/dist_train.sh on CPU builds it (ltr_plugins.launch.setup_distributed)
        model = nn.parallel.DistributedDataParallel(net, broadcast_buffers=False)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    net.train()
    for _ in range(STEPS):
        opt.zero_grad()
        model(*inputs).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _ddp_worker(rank, tmp):
    torch.set_num_threads(1)
    return {kind: _train(kind, Path(tmp), rank) for kind in DDP_HEADS}


def test_ddp_two_processes_equal_one_process_for_every_stateful_head(tmp_path):
    """One spawn of 2 gloo ranks loops over the heads; each head's parameters and buffers
    after 3 SGD (momentum) steps equal a single process trained on the whole batch."""
    results = run_gloo(_ddp_worker, str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = {kind: _train(kind, tmp_path) for kind in DDP_HEADS}
    finally:
        torch.set_num_threads(threads)
    cls, det = _ddp_data()
    for kind in DDP_HEADS:
        ref, initial = single[kind], _initial_state(kind, tmp_path)
        for rank in (0, 1):
            got = results[rank][kind]
            assert got.keys() == ref.keys(), kind
            for k in ref:
                torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5,
                                           msg=f'{kind} rank {rank}: {k}')
        # the steps did move every trainable tensor (the comparison is not vacuous)
        moved = [k for k in ref if ref[k].is_floating_point() and not torch.equal(
            ref[k], initial[k])]
        assert any('head.' in k for k in moved) and any('extractor.' in k for k in moved), kind
        labels = (det if kind in DET_KINDS else cls)['labels']
        if 'CAMC' in kind:
            # every step counts the global batch once: sums and counts, not per-rank means
            counts = ref['head.camc.prototype_counts']
            assert counts.tolist() == (STEPS * torch.bincount(
                labels, minlength=counts.numel())).tolist(), kind
            assert counts.sum() == STEPS * BATCH


def _initial_state(kind: str, tmp: Path) -> dict:
    torch.manual_seed(0)
    return {k: v.detach().clone() for k, v in _Net(kind, tmp).state_dict().items()}


# ============================================================================ resume equality
def _walk_equal(prefix, a, b, diffs):
    """Collect the paths where two checkpoint sections differ (tensors exactly)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), prefix
        for k in a:
            _walk_equal(f'{prefix}.{k}', a[k], b[k], diffs)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), prefix
        for i, (x, y) in enumerate(zip(a, b)):
            _walk_equal(f'{prefix}[{i}]', x, y, diffs)
    elif isinstance(a, torch.Tensor):
        if not torch.equal(a, b):
            diffs.append(f'{prefix}: max |diff| {(a.double() - b.double()).abs().max():.3g}')
    elif a != b:
        diffs.append(f'{prefix}: {a!r} != {b!r}')


@pytest.mark.parametrize('cfg', ['convnet_camc_tiny.py', 'convnet_oltr_tiny.py',
                                 'convnet_lgr_tiny.py'])
def test_resume_of_stateful_heads_continues_identically(cfg, tiny_data, tmp_path, monkeypatch):
    """2 epochs uninterrupted vs 1 epoch + ``tools/train.py --resume``: every state_dict tensor
    (CAMC prototypes and counts, OLTR centroids and their ``initialized`` flag, LGR anchors),
    the optimiser state and the scheduler state of epoch 2 are bit-identical.

    Exactness needs ``num_workers >= 1`` without persistent workers. mmengine checkpoints hold
    no RNG state: with ``num_workers=0`` the augmentation (RandomCrop, ``np.random`` of the
    main process) after a resume restarts from the seed instead of continuing, and persistent
    workers keep their own stream; non-persistent workers are reseeded from (seed, rank,
    worker id) at every epoch, the same in both runs. The rest is restored: weights, buffers,
    optimiser, scheduler, the sampler (seeded by seed + epoch, also mmdet's ClassAwareSampler
    of OLTR) and OLTR's centroids (the init hook sees ``initialized`` and does not rerun).
    Measured on convnet_oltr_tiny.py (2026-11-29): num_workers=0 -> weights differ by up to
    1e-2 after one resumed epoch; num_workers=1 -> identical, with or without validation
    between the epochs and ``randomness.deterministic``. See docs/troubleshooting.md."""
    monkeypatch.chdir(REPO)
    options = ['train_cfg.val_interval=10', 'train_dataloader.num_workers=1',
               'train_dataloader.persistent_workers=False']
    if cfg == 'convnet_lgr_tiny.py':  # stage 2 needs anchors; a random frozen encoder will do
        options.append(f'model.head.anchors={_anchor_file(tmp_path, 6, 4, 16)}')
    else:  # 96 of the 384 tiny images, all classes: 3 iterations per epoch
        options.append('train_dataloader.dataset.indices=' + str(list(range(0, 384, 4))))
    train = _train_main
    cfg = f'tests/configs/{cfg}'
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    # unique experiment names: mmengine keys its logger / message hub instances by them
    train([cfg, '--work-dir', str(full), '--cfg-options', f'experiment_name={tmp_path.name}_full',
           *options])
    resumed.mkdir()
    (resumed / 'epoch_1.pth').write_bytes((full / 'epoch_1.pth').read_bytes())
    train([cfg, '--work-dir', str(resumed), '--resume', str(resumed / 'epoch_1.pth'),
           '--cfg-options', f'experiment_name={tmp_path.name}_resumed', *options])
    log = next(resumed.glob('*/*.log')).read_text()
    assert 'resumed epoch: 1, iter: ' in log
    if 'oltr' in cfg:
        assert 'OLTR centroids were restored from the checkpoint: not recomputed' in log
    a = torch.load(full / 'epoch_2.pth', weights_only=False)
    b = torch.load(resumed / 'epoch_2.pth', weights_only=False)
    one = torch.load(full / 'epoch_1.pth', weights_only=False)
    assert (a['meta']['epoch'], a['meta']['iter']) == (b['meta']['epoch'], b['meta']['iter'])
    diffs = []
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        _walk_equal(key, a[key], b[key], diffs)
    assert not diffs, diffs
    # the second epoch did change the state (and the buffers of interest are there)
    buffers = {'camc': 'head.camc.prototype_counts', 'oltr': 'head.loss_centroid.centroids',
               'lgr': 'head.lgr.visual.0.weight'}[cfg.split('_')[1]]
    assert not torch.equal(a['state_dict'][buffers], one['state_dict'][buffers])


# ============================================================================ mixed precision
#: AMP cases: the _Net kinds plus the VL-LTR pretrainer (stage 1) and the mask predictor
AMP_KINDS = ('IIFLinearClsHead', 'CosineClsHead(learnable_scale)', 'CAMCClsHead',
             'OLTRNeck+MetaEmbeddingClsHead', 'LGRClsHead',
             'PostHocLinearClsHead(logit_adjustment,tau_norm)',
             'LinearClsHead+InverseFrequencyCrossEntropyLoss') + DET_KINDS
#: the peers' modules run on stock mmdet / mmpretrain heads, which do not check their input
#: features for NaN (the package's own heads do): no NaN-features case for them
NO_NAN_CHECK = ('PostHocLinearClsHead(logit_adjustment,tau_norm)',
                'LinearClsHead+InverseFrequencyCrossEntropyLoss',
                'Shared2FCBBoxHead+EQLV2BBoxLoss')
#: registered modules exercised inside another case, and the backbones (not heads)
AMP_COVERED_INSIDE = {
    'OLTRNeck': 'OLTRNeck+MetaEmbeddingClsHead', 'CAMCRoIHead': 'its bbox head',
    'LabelAwareRoIHead': 'the CAMC / OLTR bbox heads, LGRPredictor (label_aware_forward)',
    'CosineClassifier': 'CAMC / IIF bbox heads', 'LGRClsLoss': 'LGRPredictor',
    'LGRRoIHead': 'mmdet/test_vlltr_det.py::test_det_lgr_class_subset_in_training (bf16)',
    'VLLTRPretrainHead': 'VLLTRPretrainer', 'SmallConvNet': 'backbone',
    'ResNetLT': 'backbone',
    'BoxHeadRetrainDetector': 'mmdet/test_box_head_retrain.py::test_bf16_autocast_step_is_finite',
    'BoxHeadRetrainGroup': 'its members (BoxHeadRetrainDetector)',
    'ClassifierRetrainGroup': "its members' heads"}


def test_amp_cases_cover_every_registered_head():
    """A newly registered head fails here until it has an AMP case."""
    from mmdet.registry import MODELS as DET
    from mmengine.registry import MODELS as ROOT
    from mmpretrain.registry import MODELS as CLS
    ours = {name for reg in (CLS, DET, ROOT) for name, obj in reg.module_dict.items()
            if obj.__module__.startswith('ltr_plugins')}
    cases = {k.split('(')[0].split('+')[-1] for k in AMP_KINDS} | {
        'VLLTRPretrainer', 'CosineConv2d'}
    assert ours == cases | set(AMP_COVERED_INSIDE), (ours, cases)


@pytest.mark.parametrize('kind', AMP_KINDS)
def test_bf16_autocast_forward_backward_is_finite_with_zero_features(kind, tmp_path):
    """bf16 CPU autocast (what ``tools/train.py --amp`` uses on CPU): finite loss and
    gradients, and finite scores, with the first sample's head input all zeros."""
    torch.manual_seed(0)
    net = _Net(kind, tmp_path)
    net.zero_first = True
    cls, det = _ddp_data()
    data = det if kind in DET_KINDS else cls
    args = [data['x'], data['labels']] + ([data['bbox_targets']] if kind in DET_KINDS else [])
    net.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert net.extractor(data['x']).dtype == torch.bfloat16  # the head gets bf16 input
        loss = net(*args)
    assert torch.isfinite(loss), (kind, loss)
    loss.backward()
    grads = {n: p.grad for n, p in net.named_parameters() if p.requires_grad}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), \
        [n for n, g in grads.items() if g is None or not torch.isfinite(g).all()]
    assert any(g.abs().sum() > 0 for n, g in grads.items() if n.startswith('head.')), kind
    net.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        scores = net.scores(data['x'])
    assert torch.isfinite(scores).all(), kind
    # the zero sample has no direction: its cosine-type logits are exactly the bias / 0
    if kind == 'CosineClsHead(learnable_scale)':
        with torch.no_grad():
            logits = net.head(net.head_inputs(data['x']))
        torch.testing.assert_close(logits[0], net.head.fc.bias.to(logits.dtype))


def test_bf16_autocast_vlltr_pretrainer_and_cosine_mask_predictor(tmp_path):
    from mmpretrain.structures import DataSample

    from ltr_plugins.core import CosineConv2d
    torch.manual_seed(0)
    model = vlltr_pretrainer(tmp_path)
    model.init_weights()
    samples = [DataSample().set_gt_label(y) for y in (0, 2, 0, 1)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(torch.randn(4, 3, 16, 16), samples)
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.head.image_proj.weight.grad.abs().sum() > 0
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        model.head.image_proj.bias.zero_()  # a zero image embedding: zero-shot cos = 0
        preds = model.head.predict((torch.zeros(2, 8), ))
    scores = torch.stack([p.pred_score for p in preds]).float()
    torch.testing.assert_close(scores, torch.full((2, 3), 1 / 3), rtol=0, atol=4e-3)  # bf16
    # the cosine mask predictor on maps with all-zero pixels (post-ReLU background)
    conv = CosineConv2d(4, 3, scale=20.0)
    maps = torch.randn(2, 4, 5, 5).relu()
    maps[:, :, :2] = 0
    maps.requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(maps)
    out.float().sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(maps.grad).all()
    assert torch.isfinite(conv.weight.grad).all()


def _core_case(name):
    """(module, forward) of a core module on inputs with zero rows / zero class vectors."""
    from ltr_plugins.core import (CAMCalibration, CosineClassifier, LanguageGuidedClassifier,
                                  MetaEmbedding)
    torch.manual_seed(0)
    if name == 'LanguageGuidedClassifier':
        anchors = torch.randn(4, 3, 8)
        anchors[2] = 0  # a class whose anchors have no direction
        module = LanguageGuidedClassifier(anchors, math.log(10.0), 1, background=True)
        x = torch.randn(5, 8) * 30
        return module, x, lambda m, x: torch.cat(m(x), 1)
    if name == 'MetaEmbedding':
        module = MetaEmbedding(8, 4)
        centroids = torch.randn(4, 8)
        centroids[1] = 0
        x = torch.randn(5, 8) * 30
        return module, x, lambda m, x: m(x, centroids.to(x.dtype))
    clf = CosineClassifier(8, 4, scale=16.0)
    with torch.no_grad():
        clf.weight[3] = 0  # a zero class row
    module = nn.ModuleDict(dict(camc=CAMCalibration(4, 8, lam=1.0), clf=clf)).eval()
    x = torch.randn(5, 8, 3, 3) * 30
    x[:, :, 0] = 0  # zero pixels
    return module, x, lambda m, x: m['camc'](x, m['clf'], m['clf'].weight).logits


@pytest.mark.parametrize('name', ['LanguageGuidedClassifier', 'MetaEmbedding', 'CAMCalibration'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_core_modules_are_eps_safe(name, dtype):
    """fp16 / bf16 weights and inputs (``model.half()``, or fp16 AMP on GPUs): a zero feature
    row and a zero class vector give finite outputs and gradients equal to the float32 ones up
    to the dtype's rounding (norms are taken in float32, see core/cosine.py)."""
    module, x, fwd = _core_case(name)
    x[0] = 0
    ref = fwd(module, x)
    x16 = x.to(dtype).requires_grad_()
    out = fwd(module.to(dtype), x16)
    assert out.dtype == dtype and torch.isfinite(out).all(), out
    torch.testing.assert_close(out.float(), ref.detach(), rtol=0.05, atol=0.05 * 16)
    out.float().sum().backward()
    assert torch.isfinite(x16.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)

# ============================================================================ safe loading


class _Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _load_stats(path):
    from ltr_plugins.datasets import ClassStats
    return ClassStats.load(path)


def _load_anchors(path):
    from ltr_plugins.core import load_anchor_embeddings
    return load_anchor_embeddings(path)


def _load_texts(path):
    from ltr_plugins.core.vlltr import load_class_texts
    return load_class_texts(path, ['a'])


@pytest.mark.parametrize('name, loader, match', [
    ('stats.csv', _load_stats, r'stats\.csv: not a UTF-8 text csv'),
    ('train.json', _load_stats, r'train\.json: not a UTF-8 text json'),
    ('train.txt', _load_stats, r'train\.txt: not a UTF-8 text annotation list'),
    ('anchors.safetensors', _load_anchors, r'anchors\.safetensors: not a valid VL-LTR anchor'),
    ('texts.json', _load_texts, r'texts\.json: not valid json'),
])
@pytest.mark.parametrize('container', ['pickle', 'torch.save'])
def test_stats_and_embedding_files_never_unpickle(tmp_path, name, loader, match, container):
    """Stats (csv / json / list), anchor embeddings (safetensors) and class texts (json) are
    parsed as text / safetensors: a pickle payload in their place is rejected with an error
    naming the file and never runs. (Checkpoints: tests/runtime/test_compat.py, allow-list
    unpickler.)"""
    marker = tmp_path / 'payload_ran'
    path = tmp_path / name
    if container == 'pickle':
        path.write_bytes(pickle.dumps(_Payload(marker)))
    else:  # torch's zip container with the payload inside (a .pth under another name)
        torch.save({'anchors': torch.zeros(1, 1, 1), 'x': _Payload(marker)}, path)
    with pytest.raises(ValueError, match=match):
        loader(path)
    assert not marker.exists()
    # control: the payload is live — plain unpickling runs it
    if container == 'pickle':
        pickle.loads(path.read_bytes())
    else:  # (a file object: torch.load would read a '*.safetensors' path as safetensors)
        with open(path, 'rb') as f:
            torch.load(f, weights_only=False)
    assert marker.exists()


# ============================================================================ bad inputs
TINY_CLS = 'tests/configs/convnet_tiny.py'
TINY_DET = 'tests/configs/mask_rcnn_tiny.py'


def _train_tool(cfg: str, work: Path, *options: str):
    # a unique experiment name: mmengine keys its logger / message hub instances by it
    return lambda: _train_main(
        [cfg, '--work-dir', str(work), '--cfg-options',
         f'experiment_name={work.parent.name}_{work.name}', *options])


def _checkpoints(work: Path) -> List[Path]:
    """Where a run that got past its checks would have written (checkpoints)."""
    return [work / 'epoch_1.pth', work / 'last_checkpoint']


@dataclass
class Case:
    """One bad input: ``run`` must raise ``error`` matching ``match`` (None: must succeed);
    every path of ``outputs`` must afterwards be as before (absent, or the same bytes);
    ``check`` runs last (e.g. the head's state is unchanged)."""
    run: Callable[[], object]
    match: Optional[str]
    outputs: List[Path] = field(default_factory=list)
    error: type = ValueError
    check: Optional[Callable[[], None]] = None


def _lines(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _truncate(path: Path, keep: float = 0.5) -> str:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return str(path)


# --------------------------------------------------------------- one builder per table row
def case_stats_class_count(tmp, root):
    # (moved here from tests/mmpretrain/test_iif_adapters.py) a 4-class stats file, a 6-class head
    work = tmp / 'run'
    stats = _stats_file(tmp)
    return Case(_train_tool(TINY_CLS, work, 'model.head.type=IIFLinearClsHead',
                            f'model.head.iif.stats={stats}'),
                r'IIF: class statistics .*train\.txt have 4 classes but the head has '
                r'num_classes=6', _checkpoints(work))


def case_anchor_class_count(tmp, root):
    # (moved from tests/mmpretrain/test_vlltr_adapters.py) 4-class anchors for the 6-class LGR head
    work = tmp / 'run'
    anchors = _anchor_file(tmp, num_classes=4, m=3, dim=16)
    return Case(_train_tool('tests/configs/convnet_lgr_tiny.py', work,
                            f'model.head.anchors={anchors}'),
                r'anchors\.safetensors: has 4 classes but the model expects 6',
                _checkpoints(work))


def case_anchor_class_count_det(tmp, root):
    # (moved from tests/mmdet/test_vlltr_det.py) the same for the RoI classifier of Mask R-CNN
    work = tmp / 'run'
    anchors = _anchor_file(tmp, num_classes=4, m=3, dim=16)
    return Case(_train_tool('tests/configs/mask_rcnn_lgr_tiny.py', work,
                            f'model.roi_head.bbox_head.cls_predictor_cfg.anchors={anchors}'),
                r'anchors\.safetensors: has 4 classes but the model expects 6',
                _checkpoints(work))


def case_config_class_count(tmp, root):
    work = tmp / 'run'
    return Case(_train_tool(TINY_CLS, work, 'model.head.num_classes=5',
                            'data_preprocessor.num_classes=5'),
                r'train data set CustomDataset \(.*ImageNet_LT_train\.txt\) has 6 classes but '
                r'model\.head\.num_classes=5, model\.data_preprocessor\.num_classes=5',
                _checkpoints(work))


def case_config_class_count_det(tmp, root):
    work = tmp / 'run'
    return Case(_train_tool(TINY_DET, work, 'model.roi_head.bbox_head.num_classes=5',
                            'model.roi_head.mask_head.num_classes=5'),
                r'train data set ClassBalancedDataset \(.*lvis_v1_train\.json\) has 6 classes '
                r'but model\.roi_head\.bbox_head\.num_classes=5, '
                r'model\.roi_head\.mask_head\.num_classes=5', _checkpoints(work))


def case_zero_count_class(tmp, root):
    work = tmp / 'run'
    names = (root / 'classification/classes.txt').read_text().split()
    rows = ''.join(f'{i + 1},{n},{0 if i == 4 else 10 * (6 - i)},{0 if i == 4 else 10 * (6 - i)}\n'
                   for i, n in enumerate(names))
    stats = _lines(tmp / 'stats.csv', '# num_images=200\nid,name,image_count,instance_count\n'
                   + rows)
    return Case(_train_tool(TINY_CLS, work, 'model.head.type=IIFLinearClsHead',
                            f'model.head.iif.stats={stats}', 'model.head.iif.variant=raw'),
                rf"IIF variant 'raw' is undefined for a zero count; classes with no training "
                rf"samples: '{names[4]}'", _checkpoints(work))


def case_missing_class_in_class_texts(tmp, root):
    work = tmp / 'run'
    corpus = json.loads((root / 'classification/class_texts.json').read_text())
    dropped = sorted(corpus['classes'])[2]
    del corpus['classes'][dropped]
    path = _lines(tmp / 'class_texts.json', json.dumps(corpus))
    return Case(_train_tool('tests/configs/convnet_vlltr_pretrain_tiny.py', work,
                            f'model.head.class_texts={path}'),
                rf"class_texts\.json: no entry for class\(es\) \['{dropped}'\]",
                _checkpoints(work))


def case_unknown_iif_variant(tmp, root):
    work = tmp / 'run'
    return Case(_train_tool(TINY_CLS, work, 'model.head.type=IIFLinearClsHead',
                            f'model.head.iif.stats={root}/classification/ImageNet_LT_train.txt',
                            'model.head.iif.variant=log'),
                r"unknown IIF variant 'log'; valid variants: raw, smooth", _checkpoints(work))


def _class_stats_tool(source: str, out: Path) -> Callable:
    out.write_text('previous output\n')  # an earlier result must survive a failed run
    return lambda: _class_stats_main([source, '--out', str(out)])


def case_truncated_json(tmp, root):
    path = tmp / 'lvis_v1_train.json'
    path.write_bytes((root / 'lvis_v1/annotations/lvis_v1_train.json').read_bytes())
    out = tmp / 'stats.csv'
    return Case(_class_stats_tool(_truncate(path), out),
                r'lvis_v1_train\.json: not valid json', [out], SystemExit)


def case_truncated_csv(tmp, root):
    full = tmp / 'full.csv'
    _class_stats_main(
        [str(root / 'lvis_v1/annotations/lvis_v1_train.json'), '--out', str(full)])
    text = full.read_text()
    cut = text.rindex(',', 0, text.index('\n', len(text) // 2))  # mid-row, after a comma
    path = _lines(tmp / 'truncated.csv', text[:cut])
    out = tmp / 'stats.csv'
    return Case(_class_stats_tool(path, out), r'truncated\.csv:\d+: \d+ fields, header has',
                [out], SystemExit)


def case_truncated_embedding_file(tmp, root):
    work = tmp / 'run'
    anchors = _truncate(Path(_anchor_file(tmp, num_classes=6, m=3, dim=16)))
    return Case(_train_tool('tests/configs/convnet_lgr_tiny.py', work,
                            f'model.head.anchors={anchors}'),
                r'anchors\.safetensors: not a valid VL-LTR anchor embedding file',
                _checkpoints(work))


def case_truncated_class_texts(tmp, root):
    work = tmp / 'run'
    path = tmp / 'class_texts.json'
    path.write_bytes((root / 'classification/class_texts.json').read_bytes())
    return Case(_train_tool('tests/configs/convnet_vlltr_pretrain_tiny.py', work,
                            f'model.head.class_texts={_truncate(path)}'),
                r'class_texts\.json: not valid json', _checkpoints(work))


def case_checkpoint_of_another_head(tmp, root):
    """An OLTR stage-2 checkpoint tested with an IIF config: mmengine would only warn and test
    a randomly initialised fc; tools/test.py refuses it."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(REPO / 'tests/configs/convnet_oltr_tiny.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        oltr = MODELS.build(cfg.model)
    ckpt = tmp / 'oltr_epoch_2.pth'
    torch.save({'meta': {}, 'state_dict': oltr.state_dict()}, ckpt)
    work, metrics = tmp / 'test', tmp / 'metrics.json'
    run = lambda: _test_main(  # noqa: E731
        [TINY_CLS, str(ckpt), '--work-dir', str(work), '--metrics-out', str(metrics),
         '--cfg-options', f'experiment_name={tmp.name}_test', 'model.head.type=IIFLinearClsHead',
         f'model.head.iif.stats={root}/classification/ImageNet_LT_train.txt'])
    return Case(run, r'oltr_epoch_2\.pth does not fit the model \(ImageClassifier\): model '
                     r'parameters missing from it: head\.fc\.weight, head\.fc\.bias; keys the '
                     r'model does not have: neck\.attention\.\* \(9\), neck\.fc\.\* \(2\), '
                     r'head\.meta_embedding\.\* \(5\), head\.loss_centroid\.\* \(2\)',
                [metrics, work / 'test' / 'per_class_accuracy.csv'])


def _nan_case(kind):
    def build(tmp, root):
        torch.manual_seed(0)
        net = _Net(kind, tmp)
        net.train()
        before = {k: v.clone() for k, v in net.state_dict().items()}
        cls, det = _ddp_data()
        data = det if kind in DET_KINDS else cls
        x = data['x'].clone()
        x[1, 0, 1, 1] = float('nan')
        args = [x, data['labels']] + ([data['bbox_targets']] if kind in DET_KINDS else [])
        name = {'CosineClsHead(learnable_scale)': 'CosineClsHead',
                'OLTRNeck+MetaEmbeddingClsHead': 'MetaEmbeddingClsHead'}.get(kind, kind)

        def unchanged():  # nothing (prototypes, centroids, counts) took the NaN in
            for k, v in net.state_dict().items():
                assert torch.equal(v, before[k]), k
        return Case(lambda: net(*args), rf'^{re.escape(name)}: (input|RoI) features of shape '
                    r'\(\d+(, \d+)*\) contain \d+ NaN and 0 inf', check=unchanged)
    return build


def _lvis_subset(root: Path, tmp: Path, keep: slice = slice(0, 3)):
    """Of the first 3 tiny training images, one as it is, one without any annotation and one
    whose every instance is a crowd region (mmdet marks them ignored); ``keep`` selects."""
    data = json.loads((root / 'lvis_v1/annotations/lvis_v1_train.json').read_text())
    images = data['images'][:3]
    ids = [im['id'] for im in images]
    anns = [a for a in data['annotations'] if a['image_id'] in (ids[0], ids[2])]
    for a in anns:
        if a['image_id'] == ids[2]:
            a['iscrowd'] = 1
    data.update(images=images[keep], annotations=[a for a in anns if a['image_id'] in ids[keep]])
    path = tmp / f'train_{keep.start}_{keep.stop}.json'
    path.write_text(json.dumps(data))
    return path, ids


def case_empty_and_all_ignored_images_train(tmp, root):
    """Not an error. mmdet's ``filter_empty_gt`` drops the image without annotations and keeps
    the one whose instances are all ignored (it then has no GT to learn from). Training on a
    set where no image has a usable instance (filter off) runs: the OLTR centroid pass sees no
    sample, the batch has no positive RoI, and losses and state stay finite. The CAMC box head
    on an all-background RoI batch only updates the background prototype."""
    ann, ids = _lvis_subset(root, tmp)
    work = tmp / 'oltr'
    unusable, _ = _lvis_subset(root, tmp, slice(1, 3))
    train = _train_tool('tests/configs/mask_rcnn_oltr_tiny.py', work,
                        f'train_dataloader.dataset.dataset.ann_file={unusable}',
                        'train_dataloader.dataset.dataset.filter_cfg.filter_empty_gt=False',
                        'train_dataloader.batch_size=2', 'train_cfg.val_begin=2')

    def run():
        from mmdet.registry import DATASETS
        from mmengine.registry import DefaultScope
        for keep_empty in (False, True):  # what mmdet's filter keeps
            with DefaultScope.overwrite_default_scope('mmdet'):
                ds = DATASETS.build(dict(
                    type='LVISV1JsonDataset', ann_file=str(ann), data_prefix=dict(img=''),
                    data_root=str(root / 'lvis_v1'), pipeline=[],
                    filter_cfg=dict(filter_empty_gt=not keep_empty, min_size=4)))
            infos = {ds.get_data_info(i)['img_id']: ds.get_data_info(i) for i in range(len(ds))}
            assert sorted(infos) == sorted(ids if keep_empty else [ids[0], ids[2]])
            assert infos[ids[2]]['instances'] and all(
                i['ignore_flag'] == 1 for i in infos[ids[2]]['instances'])
        train()  # one iteration on both images
        log = next(work.glob('*/*.log')).read_text()
        assert 'OLTR centroids set to the class means of 0 training samples' in log
        step = re.search(r'Epoch\(train\) \[1\]\[1/1\].*', log).group(0)
        losses = dict(re.findall(r'(loss\w*): (\S+)', step))
        assert {'loss_cls', 'loss_bbox', 'loss_mask', 'loss_centroid'} <= set(losses), step
        assert all(math.isfinite(float(v)) for v in losses.values()), step
        state = torch.load(work / 'epoch_1.pth', weights_only=False)['state_dict']
        assert not [k for k, v in state.items()
                    if v.is_floating_point() and not torch.isfinite(v).all()]
        # CAMC box head, every RoI background (label NUM_CLS)
        torch.manual_seed(0)
        net = _Net('CAMCShared2FCBBoxHead', tmp)
        net.train()
        _, det = _ddp_data()
        loss = net(det['x'], torch.full((BATCH, ), NUM_CLS), det['bbox_targets'])
        loss.backward()
        assert torch.isfinite(loss) and all(
            torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
        assert net.head.camc.prototype_counts.tolist() == [0] * NUM_CLS + [BATCH]
    return Case(run, None)


BAD_INPUTS = {
    'stats-file-class-count': case_stats_class_count,
    'anchor-file-class-count': case_anchor_class_count,
    'anchor-file-class-count-det': case_anchor_class_count_det,
    'config-class-count': case_config_class_count,
    'config-class-count-det': case_config_class_count_det,
    'zero-count-class': case_zero_count_class,
    'missing-class-in-class-texts': case_missing_class_in_class_texts,
    'unknown-iif-variant': case_unknown_iif_variant,
    'truncated-json': case_truncated_json,
    'truncated-csv': case_truncated_csv,
    'truncated-embedding-file': case_truncated_embedding_file,
    'truncated-class-texts': case_truncated_class_texts,
    'checkpoint-of-another-head': case_checkpoint_of_another_head,
    **{f'nan-features-{k.split("(")[0].split("+")[-1]}': _nan_case(k) for k in AMP_KINDS
       if k not in NO_NAN_CHECK},
    'empty-and-all-ignored-images-train': case_empty_and_all_ignored_images_train,
}


@pytest.mark.parametrize('name', list(BAD_INPUTS))
def test_bad_input_table(name, tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # configs name data/tiny relative to the repo root
    case = BAD_INPUTS[name](tmp_path, tiny_data)
    before = {p: p.read_bytes() if p.exists() else None for p in case.outputs}
    if case.match is None:
        case.run()
    else:
        with pytest.raises(case.error, match=case.match):
            case.run()
    for p, content in before.items():
        after = p.read_bytes() if p.exists() else None
        assert after == content, f'{p} was {"written" if content is None else "changed"}'
    if case.check is not None:
        case.check()


# ============================================================================ atomic writes
class _Killed(BaseException):
    """Stands for the process being killed (not an Exception: nothing may swallow it)."""


class _HalfFile:
    """A file whose first write keeps half of the data, then the process 'dies'."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[:len(data) // 2])
        self.f.flush()
        raise _Killed()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_interrupted_writes_leave_the_old_file(tmp_path, monkeypatch):
    """Tools' csv / json / safetensors (``ltr_plugins.fileio``) and mmengine checkpoints
    (``LocalBackend.put``, patched by the tools' ``apply_tool_fixes``) go through a temporary
    file and ``os.replace``: killed mid-write, the target keeps its old complete content and no
    temporary file is left. The control shows what mmengine's own ``put`` leaves behind."""
    from mmengine.fileio.backends import local_backend
    from mmengine.runner.checkpoint import save_checkpoint

    from ltr_plugins import fileio
    from ltr_plugins.compat import apply_tool_fixes, safe_torch_load
    assert apply_tool_fixes()['atomic_local_writes']  # what tools/train.py does first

    class _Os:  # os, with fdopen handing out half-writing files
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def fdopen(fd, mode):
            return _HalfFile(os.fdopen(fd, mode))

    csv_path, ckpt = tmp_path / 'per_class.csv', tmp_path / 'epoch_1.pth'
    fileio.atomic_write_text(csv_path, 'class,accuracy\n0,0.5\n')
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(ckpt))
    old_csv, old_ckpt = csv_path.read_bytes(), ckpt.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(fileio, 'os', _Os())
        with pytest.raises(_Killed):
            fileio.atomic_write_text(csv_path, 'class,accuracy\n' + '0,0.9\n' * 1000)
        with pytest.raises(_Killed):
            save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, str(ckpt))
    assert csv_path.read_bytes() == old_csv and ckpt.read_bytes() == old_ckpt
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth', 'per_class.csv']
    assert torch.equal(safe_torch_load(str(ckpt))['state_dict']['w'], torch.ones(3))
    save_checkpoint({'state_dict': {'w': torch.zeros(2)}}, str(ckpt))  # and it does write
    assert torch.equal(safe_torch_load(str(ckpt))['state_dict']['w'], torch.zeros(2))
    # control: mmengine's own put writes in place and leaves a truncated checkpoint
    original = local_backend.LocalBackend.put._ltr_plugins_original
    monkeypatch.setattr(local_backend, 'open', lambda *a, **k: _HalfFile(open(*a, **k)),
                        raising=False)
    with pytest.raises(_Killed):
        original(local_backend.LocalBackend(), b'x' * 1000, str(ckpt))
    assert ckpt.read_bytes() == b'x' * 500


def test_file_lock_excludes_other_holders_and_dies_with_its_holder(tmp_path):
    """``fileio.file_lock``: held, a second holder (another open in this process, or another
    process) is refused at once with ``wait=False`` and told who holds it; a holder that is
    killed leaves no lock behind (the kernel releases it), and its text is replaced by the next
    holder's."""
    import signal
    import subprocess
    import sys

    from ltr_plugins.fileio import LockHeld, file_lock
    path = tmp_path / 'sub' / 'x.lock'
    with file_lock(path, 'first holder'):
        with pytest.raises(LockHeld, match='held by first holder') as e:
            with file_lock(path, 'second', wait=False):
                pass
        assert e.value.path == str(path) and e.value.holder == 'first holder'
    with file_lock(path, 'second', wait=False):  # released at the end of the block
        assert path.read_text() == 'second\n'
    code = ('import sys, time; from ltr_plugins.fileio import file_lock\n'
            'with file_lock(sys.argv[1], "pid in a child"):\n'
            '    print("held", flush=True); time.sleep(60)\n')
    child = subprocess.Popen([sys.executable, '-c', code, str(path)], stdout=subprocess.PIPE,
                             text=True, cwd=str(Path(__file__).parents[2]))
    try:
        assert child.stdout.readline().strip() == 'held'
        with pytest.raises(LockHeld, match='pid in a child'):
            with file_lock(path, 'parent', wait=False):
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with file_lock(path, 'after the kill', wait=False):
        assert path.read_text() == 'after the kill\n'
